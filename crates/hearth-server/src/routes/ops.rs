//! Operations endpoints, outside the gate: probes must work without keys.

use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers and the audit writer runs.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let database = app.store.ping().await.is_ok();
    let audit_writer = !app.audit_writer_finished();
    let ready = database && audit_writer;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": if database { "ok" } else { "unreachable" },
            "audit_writer": if audit_writer { "ok" } else { "stopped" },
        },
    });
    (status, Json(body))
}

/// Prometheus metrics.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("hearth_audit_buffer_depth").set(app.audit.depth() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
