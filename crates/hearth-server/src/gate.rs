//! The gate every API call passes: request id → body-size check → auth →
//! rate limit → handler → audit record and metrics.
//!
//! Everything here is on the hot path, so it touches no database: keys come
//! from the authenticator's cache, limits from the in-process limiter, and
//! the audit record goes into the buffered writer.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{drain, too_large};
use crate::meter::Meter;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hearth_engine::CallContext;
use hearth_security::audit::CallRecord;
use hearth_security::ratelimit::{Check, Decision, Quota, RateLimiter, Subject};
use hearth_security::{AuthError, Principal};
use hearth_types::AuditEntry;
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use hearth_types::usage::UsageRecord;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const API_KEY: HeaderName = HeaderName::from_static("api-key");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

pub async fn gate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id(req.headers());
    let call = CallContext {
        request_id: request_id.clone(),
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        client_addr: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    };
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();

    let meter = Meter::default();
    let (identity, mut response) = match admit(&app, &mut req).await {
        Err(refusal) => {
            // A client that waits for `100 Continue` has sent no body.
            let expects_continue = req.headers().contains_key(header::EXPECT);
            if refusal.response.status() == StatusCode::PAYLOAD_TOO_LARGE && !expects_continue {
                drain(std::mem::take(req.body_mut())).await;
            }
            (refusal.identity, refusal.response)
        }
        Ok((principal, decision)) => {
            req.extensions_mut().insert(principal.clone());
            req.extensions_mut().insert(call.clone());
            req.extensions_mut().insert(meter.clone());
            let mut response = next.run(req).await;
            rate_limit_headers(response.headers_mut(), &decision);
            (Some(Identity::from(&principal)), response)
        }
    };

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    crate::telemetry::record_http(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        status,
        started.elapsed(),
    );

    let finish = Finish {
        app: app.clone(),
        call,
        identity,
        status,
        started,
        meter,
    };
    // A body of known length is complete now. A stream is recorded when it
    // ends or the client abandons it, with what it consumed by then.
    if http_body::Body::size_hint(response.body())
        .exact()
        .is_some()
    {
        app.audit.record(finish.into_record()).await;
        response
    } else {
        response.map(|body| {
            Body::new(RecordOnEnd {
                inner: body,
                finish: Some(finish),
            })
        })
    }
}

/// Everything needed to write a call's audit (and usage) record once its
/// response is finished.
struct Finish {
    app: AppState,
    call: CallContext,
    identity: Option<Identity>,
    status: u16,
    started: Instant,
    meter: Meter,
}

impl Finish {
    /// Settles the call's token charge and builds its records.
    fn into_record(self) -> CallRecord {
        let metered = self.meter.finish();
        let who = self.identity.as_ref();
        let now = now_millis();
        let mut entry = AuditEntry {
            id: new_id(IdKind::Audit),
            created_at: now,
            request_id: self.call.request_id,
            org_id: who.map(|w| w.org_id.clone()),
            user_id: who.map(|w| w.user_id.clone()),
            key_prefix: who.and_then(|w| w.key_prefix.clone()),
            method: self.call.method,
            path: self.call.path,
            status: i64::from(self.status),
            latency_us: i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            client_addr: self.call.client_addr,
            user_agent: self.call.user_agent,
            ..AuditEntry::default()
        };
        let mut usage = None;
        if let Some(m) = metered {
            entry.model = Some(m.model.clone());
            if let Some(charge) = &m.charge {
                self.app
                    .engine
                    .settle_tokens(charge, m.input_tokens + m.output_tokens);
            }
            if m.used {
                entry.input_tokens = Some(saturating_i64(m.input_tokens));
                entry.output_tokens = Some(saturating_i64(m.output_tokens));
                if let Some(w) = who {
                    usage = Some(UsageRecord {
                        id: new_id(IdKind::Usage),
                        created_at: now,
                        request_id: entry.request_id.clone(),
                        org_id: w.org_id.clone(),
                        user_id: w.user_id.clone(),
                        key_id: w.key_id.clone(),
                        model: m.model,
                        input_tokens: saturating_i64(m.input_tokens),
                        output_tokens: saturating_i64(m.output_tokens),
                        estimated: m.estimated,
                    });
                }
            }
        }
        CallRecord {
            entry,
            key_id: who.and_then(|w| w.key_id.clone()),
            usage,
        }
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A streamed response body that writes the call's records when it ends,
/// fails, or is dropped unfinished (the client went away).
struct RecordOnEnd {
    inner: Body,
    finish: Option<Finish>,
}

impl RecordOnEnd {
    fn complete(&mut self) {
        if let Some(finish) = self.finish.take() {
            let sink = finish.app.audit.clone();
            sink.record_detached(finish.into_record());
        }
    }
}

impl http_body::Body for RecordOnEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            this.complete();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordOnEnd {
    fn drop(&mut self) {
        self.complete();
    }
}

/// A call turned away before its handler ran.
struct Refusal {
    /// Whose call it was, when known: after authentication (429), or when
    /// the key exists but may not be used (revoked, expired, disabled).
    identity: Option<Identity>,
    response: Response,
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal {
            identity: None,
            response: e.into_response(),
        }
    }
}

/// Who a call is recorded against.
struct Identity {
    org_id: String,
    user_id: String,
    key_prefix: Option<String>,
    /// Set only for admitted calls: their key's last-use time is updated.
    key_id: Option<String>,
}

impl From<&Principal> for Identity {
    fn from(p: &Principal) -> Self {
        Identity {
            org_id: p.org_id().to_owned(),
            user_id: p.user_id().to_owned(),
            key_prefix: p.key_prefix().map(str::to_owned),
            key_id: p.key_id().map(str::to_owned),
        }
    }
}

async fn admit(app: &AppState, req: &mut Request) -> Result<(Principal, Decision), Refusal> {
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > app.config.max_body_bytes as u64) {
        return Err(too_large().into());
    }
    let secret = credential(req.headers()).map_err(ApiError::from)?;
    let principal = app
        .auth
        .authenticate(secret)
        .await
        .map_err(|failure| Refusal {
            identity: failure.owner.map(|o| Identity {
                org_id: o.org_id,
                user_id: o.user_id,
                key_prefix: Some(o.key_prefix),
                key_id: None,
            }),
            response: ApiError::from(failure.error).into_response(),
        })?;
    let decision = rate_limit(app, &principal).await;
    if !decision.allowed {
        let mut response = rate_limited(&decision).into_response();
        rate_limit_headers(response.headers_mut(), &decision);
        return Err(Refusal {
            identity: Some(Identity::from(&principal)),
            response,
        });
    }
    Ok((principal, decision))
}

/// The presented key: `Authorization: Bearer`, else `x-api-key`, else
/// `api-key`. A present but malformed `Authorization` is an error with no
/// fallback to the other headers.
pub fn credential(headers: &HeaderMap) -> Result<&str, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
            return Err(AuthError::Malformed);
        }
        return Ok(token);
    }
    for name in [X_API_KEY, API_KEY] {
        if let Some(value) = headers.get(&name) {
            let token = value.to_str().map_err(|_| AuthError::InvalidKey)?.trim();
            if token.is_empty() {
                return Err(AuthError::InvalidKey);
            }
            return Ok(token);
        }
    }
    Err(AuthError::Missing)
}

async fn rate_limit(app: &AppState, principal: &Principal) -> Decision {
    let org_rpm = match app.auth.org(principal.org_id()).await {
        Ok(Some(org)) => org.requests_per_minute,
        // The org row is only read for its override; without it the
        // default still protects the service.
        Ok(None) | Err(_) => None,
    };
    let org_quota = org_rpm
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(app.config.limits.requests_per_minute);
    let mut checks = Vec::with_capacity(2);
    checks.push(Check {
        subject: Subject::OrgRequests(principal.org_id().to_owned()),
        quota: Quota {
            per_minute: org_quota,
        },
    });
    if let (Some(key_id), Some(rpm)) = (principal.key_id(), principal.key_requests_per_minute()) {
        checks.push(Check {
            subject: Subject::KeyRequests(key_id.to_owned()),
            quota: Quota {
                per_minute: u64::try_from(rpm).unwrap_or(1),
            },
        });
    }
    let decision = app.limiter.acquire(&checks, 1).await;
    if !decision.allowed {
        metrics::counter!("hearth_rate_limited_total", "kind" => "requests").increment(1);
    }
    decision
}

fn rate_limited(decision: &Decision) -> ApiError {
    let secs = retry_after_secs(decision.retry_after);
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        format!(
            "rate limit of {} requests per minute reached; retry after {secs} s",
            decision.limit
        ),
    )
    .code("rate_limit_exceeded");
    err.headers
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    err
}

/// Whole seconds, rounded up, at least 1: a client that waits this long
/// will get through.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0).max(u64::from(d.is_zero()))
}

/// The `x-ratelimit-*-tokens` headers for a token limit decision.
pub(crate) fn token_headers(d: &Decision) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit-tokens"),
        HeaderValue::from(d.limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining-tokens"),
        HeaderValue::from(d.remaining),
    );
    if let Ok(v) = HeaderValue::from_str(&format_duration(d.reset)) {
        headers.insert(HeaderName::from_static("x-ratelimit-reset-tokens"), v);
    }
    headers
}

fn rate_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit-requests"),
        HeaderValue::from(d.limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining-requests"),
        HeaderValue::from(d.remaining),
    );
    if let Ok(v) = HeaderValue::from_str(&format_duration(d.reset)) {
        headers.insert(HeaderName::from_static("x-ratelimit-reset-requests"), v);
    }
}

/// A duration the way OpenAI writes its reset headers: `1s`, `6m0s`,
/// `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, ms) = (ms / 60_000, ms % 60_000);
    let (secs, frac) = (ms / 1000, ms % 1000);
    // Milliseconds as a decimal fraction without trailing zeros.
    let secs = if frac == 0 {
        secs.to_string()
    } else {
        let frac = format!("{frac:03}");
        format!("{secs}.{}", frac.trim_end_matches('0'))
    };
    if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// Gives the responses of routes outside the gate (the operations probes)
/// an `x-request-id` too: every response carries one.
pub async fn stamp_request_id(req: Request, next: Next) -> Response {
    let id = request_id(req.headers());
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The caller's `x-request-id` if it is sane, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| new_id(IdKind::Request), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_wins_then_x_api_key_then_api_key() {
        let all = headers(&[
            ("authorization", "Bearer a"),
            ("x-api-key", "b"),
            ("api-key", "c"),
        ]);
        assert_eq!(credential(&all).unwrap(), "a");
        assert_eq!(
            credential(&headers(&[("x-api-key", "b"), ("api-key", "c")])).unwrap(),
            "b"
        );
        assert_eq!(credential(&headers(&[("api-key", "c")])).unwrap(), "c");
        assert!(matches!(
            credential(&HeaderMap::new()),
            Err(AuthError::Missing)
        ));
    }

    #[test]
    fn malformed_authorization_never_falls_back() {
        for bad in ["Basic abc", "Bearer", "Bearer ", "Bearer a b", "token"] {
            let h = headers(&[("authorization", bad), ("x-api-key", "good")]);
            assert!(
                matches!(credential(&h), Err(AuthError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        assert_eq!(
            request_id(&headers(&[("x-request-id", "abc-123")])),
            "abc-123"
        );
        assert!(request_id(&headers(&[("x-request-id", "no spaces")])).starts_with("req_"));
        assert!(request_id(&HeaderMap::new()).starts_with("req_"));
    }

    #[test]
    fn durations_read_like_openai_headers() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(format_duration(Duration::from_millis(61_050)), "1m1.05s");
        assert_eq!(format_duration(Duration::from_millis(59_999)), "59.999s");
        assert_eq!(format_duration(Duration::from_millis(999)), "999ms");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
