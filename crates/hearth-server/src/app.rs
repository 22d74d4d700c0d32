//! The application state and the router.

use crate::config::Config;
use crate::{gate, routes};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use hearth_engine::gateway::Catalog;
use hearth_engine::{DefaultLimits, Engine, EngineParts};
use hearth_providers::Provider;
use hearth_security::Authenticator;
use hearth_security::audit::AuditSink;
use hearth_security::ratelimit::Limiter;
use hearth_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything a handler can reach. Cloned for every extractor of every
/// request, so it is one shared pointer (field access goes through it).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub engine: Engine,
    pub auth: Authenticator,
    pub store: Store,
    pub limiter: Arc<Limiter>,
    pub audit: AuditSink,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    /// Cancelled when the audit writer task has ended.
    pub(crate) audit_writer_done: CancellationToken,
}

impl Services {
    pub(crate) fn audit_writer_finished(&self) -> bool {
        self.audit_writer_done.is_cancelled()
    }
}

/// Every route. The API sits behind the gate (auth, limits, audit); the
/// operations probes do not.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/v1/admin/orgs",
            get(routes::orgs::list).post(routes::orgs::create),
        )
        .route(
            "/v1/admin/orgs/{id}",
            get(routes::orgs::get).patch(routes::orgs::update),
        )
        .route(
            "/v1/admin/users",
            get(routes::users::list).post(routes::users::create),
        )
        .route(
            "/v1/admin/users/{id}",
            get(routes::users::get).patch(routes::users::update),
        )
        .route(
            "/v1/admin/api-keys",
            get(routes::keys::list).post(routes::keys::create),
        )
        .route(
            "/v1/admin/api-keys/{id}",
            get(routes::keys::get)
                .patch(routes::keys::update)
                .delete(routes::keys::revoke),
        )
        .route("/v1/admin/audit-logs", get(routes::audit::list))
        .route("/v1/admin/audit-logs/verify", get(routes::audit::verify))
        .route("/v1/me", get(routes::me::get))
        .route("/v1/models", get(routes::models::list))
        .route("/v1/models/{*id}", get(routes::models::get))
        .route("/v1/chat/completions", post(routes::chat::chat))
        .route("/v1/completions", post(routes::chat::completions))
        .route("/v1/admin/usage", get(routes::usage::get))
        .route("/v1/responses", post(routes::responses::create))
        .route(
            "/v1/responses/{id}",
            get(routes::responses::get).delete(routes::responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(routes::responses::input_items),
        )
        .route("/v1/conversations", post(routes::conversations::create))
        .route(
            "/v1/conversations/{id}",
            get(routes::conversations::get)
                .post(routes::conversations::update)
                .delete(routes::conversations::delete),
        )
        .route(
            "/v1/conversations/{id}/items",
            get(routes::conversations::items),
        )
        .route(
            "/v1/conversations/{id}/items/{item_id}",
            get(routes::conversations::item),
        )
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate::gate))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    let ops = Router::new()
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .layer(middleware::from_fn(gate::stamp_request_id));
    ops.merge(api).with_state(state)
}

/// The engine, wired from the store, authenticator, limiter and catalogue.
pub fn engine(
    store: &Store,
    auth: &Authenticator,
    limiter: Arc<Limiter>,
    catalog: Arc<Catalog>,
    config: &Config,
) -> Engine {
    Engine::new(EngineParts {
        store: store.clone(),
        auth: auth.clone(),
        limiter,
        catalog,
        limits: DefaultLimits {
            requests_per_minute: config.limits.requests_per_minute,
            tokens_per_minute: config.limits.tokens_per_minute,
        },
        retry: config.gateway.retry,
        responses: config.responses.clone(),
    })
}

/// The model catalogue from the gateway config: one shared HTTP client per
/// distinct connect timeout (in practice one), so every provider shares a
/// connection pool.
pub fn catalog(config: &Config) -> anyhow::Result<Catalog> {
    let mut clients: HashMap<Duration, hearth_providers::HttpClient> = HashMap::new();
    let mut providers = Vec::with_capacity(config.gateway.providers.len());
    for p in &config.gateway.providers {
        let client = match clients.get(&p.connect_timeout) {
            Some(c) => c.clone(),
            None => {
                let c = hearth_providers::http_client(p.connect_timeout)?;
                clients.insert(p.connect_timeout, c.clone());
                c
            }
        };
        providers.push(Provider::new(p.settings.clone(), client));
    }
    Ok(Catalog::new(providers, &config.gateway.models)
        .map_err(|e| crate::config::ConfigError(e.to_string()))?)
}
