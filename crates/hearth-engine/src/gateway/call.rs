//! One model call: check, authorise, charge tokens, then try the model's
//! provider and its fallbacks with bounded retries.

use super::catalog::{ModelView, Route};
use super::validate;
use crate::metric_handles::Handles;
use crate::{Engine, EngineError};
use hearth_providers::{ChatRequest, Completion, EventStream, LlmProvider, ProviderError};
use hearth_security::Principal;
use hearth_security::ratelimit::{Check, Decision, Quota, RateLimiter, Subject};
use hearth_types::Permission;
use metrics::{Counter, Histogram};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// Which OpenAI endpoint a call came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completion,
}

/// A model call as it arrives.
#[derive(Debug)]
pub struct ModelCall {
    pub endpoint: Endpoint,
    pub body: Map<String, Value>,
    /// Size of the request body in bytes: the basis of the prompt token
    /// estimate charged before the call.
    pub body_len: usize,
}

/// How often and how long to retry an upstream that fails retryably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries per deployment (so attempts = retries + 1).
    pub max_retries: u32,
    /// First backoff; doubles per retry.
    pub base_delay: Duration,
    /// The longest upstream `Retry-After` honoured by waiting; a longer
    /// one moves on to the next fallback at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_wait: Duration::from_secs(10),
        }
    }
}

/// The tokens charged to the organisation before the call, to settle once
/// the real usage is known.
#[derive(Debug, Clone)]
pub struct TokenCharge {
    check: Check,
    pub charged: u64,
    /// The token limit's state after the charge, for response headers.
    pub decision: Decision,
}

/// What the upstream answered.
pub enum Reply {
    Complete(Completion),
    Stream(EventStream),
}

/// A successful call.
pub struct CallOutcome {
    /// The canonical model id (aliases resolved).
    pub model: String,
    /// The provider that answered.
    pub provider: String,
    pub stream: bool,
    pub reply: Reply,
    pub tokens: TokenCharge,
}

impl Engine {
    /// The models the caller's organisation may use.
    pub async fn list_models(&self, actor: &Principal) -> Result<Vec<ModelView>, EngineError> {
        actor.require(Permission::Read)?;
        self.ensure_models_configured()?;
        let allowed = self.allowed_models(actor).await?;
        Ok(self
            .catalog
            .routes()
            .iter()
            .filter(|r| allowed.as_ref().is_none_or(|list| list.contains(&r.id)))
            .map(|r| ModelView::from(r.as_ref()))
            .collect())
    }

    /// One model by id or alias.
    pub async fn get_model(&self, actor: &Principal, name: &str) -> Result<ModelView, EngineError> {
        actor.require(Permission::Read)?;
        let route = self.route_for(actor, name).await?;
        Ok(ModelView::from(route.as_ref()))
    }

    /// Runs a chat or legacy completion call.
    pub async fn call_model(
        &self,
        actor: &Principal,
        call: ModelCall,
    ) -> Result<CallOutcome, EngineError> {
        actor.require(Permission::UseModels)?;
        let name = validate::model(&call.body)?.to_owned();
        let (stream, include_usage) = validate::stream_flags(&call.body)?;
        match call.endpoint {
            Endpoint::Chat => validate::chat(&call.body)?,
            Endpoint::Completion => validate::completion(&call.body)?,
        }
        let route = self.route_for(actor, &name).await?;
        let tokens = self.charge_tokens(actor, call.body_len).await?;

        let body = Arc::new(call.body);
        let mut last_error = None;
        for target in std::iter::once(route.clone()).chain(self.fallbacks_of(&route)) {
            let request = ChatRequest {
                body: Arc::clone(&body),
                upstream_model: target.upstream_model.clone(),
                client_model: route.id.clone(),
                default_max_tokens: target.max_tokens,
                include_usage,
            };
            match self
                .try_route(&target, call.endpoint, stream, request)
                .await
            {
                Ok(reply) => {
                    return Ok(CallOutcome {
                        model: route.id.clone(),
                        provider: target.provider.name().to_owned(),
                        stream,
                        reply,
                        tokens,
                    });
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = %target.id, provider = target.provider.name(), error = %e, "deployment failed; trying the next fallback");
                    last_error = Some(e);
                }
                Err(e) => {
                    self.settle_tokens(&tokens, 0);
                    return Err(EngineError::Upstream(e));
                }
            }
        }
        self.settle_tokens(&tokens, 0);
        Err(EngineError::Upstream(last_error.unwrap_or(
            ProviderError::Connect("no deployment answered".to_owned()),
        )))
    }

    /// Settles a call's token charge with its real usage (`actual` tokens,
    /// prompt and completion together).
    pub fn settle_tokens(&self, charge: &TokenCharge, actual: u64) {
        self.limiter.settle(&charge.check, charge.charged, actual);
    }

    /// Tries one deployment, retrying retryable failures with backoff.
    pub(crate) async fn try_route(
        &self,
        target: &Route,
        endpoint: Endpoint,
        stream: bool,
        request: ChatRequest,
    ) -> Result<Reply, ProviderError> {
        let provider = target.provider.as_ref();
        let mut attempt = 0;
        loop {
            let started = std::time::Instant::now();
            let result = match (endpoint, stream) {
                (Endpoint::Chat, false) => {
                    provider.chat(request.clone()).await.map(Reply::Complete)
                }
                (Endpoint::Chat, true) => provider
                    .chat_stream(request.clone())
                    .await
                    .map(Reply::Stream),
                (Endpoint::Completion, false) => provider
                    .completion(request.clone())
                    .await
                    .map(Reply::Complete),
                (Endpoint::Completion, true) => provider
                    .completion_stream(request.clone())
                    .await
                    .map(Reply::Stream),
            };
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) if e.is_retryable() => "retryable_error",
                Err(_) => "error",
            };
            record_upstream(provider.name(), outcome, started.elapsed());
            let error = match result {
                Ok(reply) => return Ok(reply),
                Err(e) if e.is_retryable() && attempt < self.retry.max_retries => e,
                Err(e) => return Err(e),
            };
            let wait = match retry_after(&error) {
                Some(after) if after > self.retry.max_wait => return Err(error),
                Some(after) => after,
                None => self.retry.base_delay * 2u32.saturating_pow(attempt),
            };
            tracing::info!(model = %target.id, provider = provider.name(), attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying upstream");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    pub(crate) fn fallbacks_of<'a>(
        &'a self,
        route: &'a Route,
    ) -> impl Iterator<Item = Arc<Route>> + 'a {
        route
            .fallbacks
            .iter()
            .filter_map(|name| self.catalog.resolve(name).cloned())
    }

    /// Resolves a model name the caller may use; anything else is 404.
    pub(crate) async fn route_for(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<Arc<Route>, EngineError> {
        self.ensure_models_configured()?;
        let not_found = || {
            EngineError::ModelNotFound(format!(
                "The model '{name}' does not exist or you do not have access to it."
            ))
        };
        let route = self.catalog.resolve(name).cloned().ok_or_else(not_found)?;
        match self.allowed_models(actor).await? {
            Some(list) if !list.contains(&route.id) => Err(not_found()),
            _ => Ok(route),
        }
    }

    fn ensure_models_configured(&self) -> Result<(), EngineError> {
        if self.catalog.is_empty() {
            Err(EngineError::NoModels)
        } else {
            Ok(())
        }
    }

    async fn allowed_models(&self, actor: &Principal) -> Result<Option<Vec<String>>, EngineError> {
        Ok(self
            .auth
            .org(actor.org_id())
            .await?
            .and_then(|org| org.allowed_models.clone()))
    }

    /// Charges the prompt estimate against the organisation's tokens per
    /// minute before the call; refused when the allowance is spent.
    pub(crate) async fn charge_tokens(
        &self,
        actor: &Principal,
        body_len: usize,
    ) -> Result<TokenCharge, EngineError> {
        let per_minute = self
            .auth
            .org(actor.org_id())
            .await?
            .and_then(|org| org.tokens_per_minute)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(self.limits.tokens_per_minute);
        let check = Check {
            subject: Subject::OrgTokens(actor.org_id().to_owned()),
            quota: Quota { per_minute },
        };
        // Roughly four bytes of JSON per token; the settlement corrects it.
        let charged = (body_len as u64 / 4).max(1);
        let decision = self
            .limiter
            .acquire(std::slice::from_ref(&check), charged)
            .await;
        if !decision.allowed {
            metrics::counter!("hearth_rate_limited_total", "kind" => "tokens").increment(1);
            return Err(EngineError::TokensExhausted(decision));
        }
        Ok(TokenCharge {
            check,
            charged,
            decision,
        })
    }
}

/// The upstream's `Retry-After`, when it sent one.
fn retry_after(error: &ProviderError) -> Option<Duration> {
    match error {
        ProviderError::Upstream { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// An upstream attempt's labels: provider and outcome.
type UpstreamLabels = (String, &'static str);

thread_local! {
    /// The upstream metrics by their labels.
    static UPSTREAM_HANDLES: RefCell<Handles<UpstreamLabels, (Counter, Histogram)>> =
        const { RefCell::new(Handles::new()) };
}

/// Counts an upstream attempt (`hearth_upstream_requests_total`) and
/// records its time to the first byte (`hearth_upstream_first_byte_seconds`).
fn record_upstream(provider: &str, outcome: &'static str, elapsed: Duration) {
    UPSTREAM_HANDLES.with_borrow_mut(|handles| {
        handles.with(
            |(p, o)| *o == outcome && p == provider,
            || {
                let requests = metrics::counter!(
                    "hearth_upstream_requests_total",
                    "provider" => provider.to_owned(),
                    "outcome" => outcome,
                );
                let first_byte = metrics::histogram!(
                    "hearth_upstream_first_byte_seconds",
                    "provider" => provider.to_owned(),
                );
                ((provider.to_owned(), outcome), (requests, first_byte))
            },
            |(requests, first_byte)| {
                requests.increment(1);
                first_byte.record(elapsed.as_secs_f64());
            },
        );
    });
}
