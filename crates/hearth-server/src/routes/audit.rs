//! `/v1/admin/audit-logs`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use axum::Json;
use axum::extract::State;
use hearth_engine::admin::AuditQuery;
use hearth_store::ChainReport;
use hearth_types::admin::{AuditEntryView, ListPage};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    org_id: Option<String>,
    user_id: Option<String>,
    key_prefix: Option<String>,
    method: Option<String>,
    path_prefix: Option<String>,
    status: Option<i64>,
    action: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    State(app): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<ListPage<AuditEntryView>>, ApiError> {
    let query = AuditQuery {
        org_id: p.org_id,
        user_id: p.user_id,
        key_prefix: p.key_prefix,
        method: p.method,
        path_prefix: p.path_prefix,
        status: p.status,
        action: p.action,
        since: p.since,
        until: p.until,
        after: p.after,
        limit: p.limit,
    };
    let (entries, more) = app.engine.list_audit(&actor, &app.audit, query).await?;
    let views = entries.iter().map(AuditEntryView::from).collect();
    Ok(Json(ListPage::new(views, more, |e: &AuditEntryView| &e.id)))
}

pub async fn verify(
    State(app): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<ChainReport>, ApiError> {
    Ok(Json(app.engine.verify_audit(&actor, &app.audit).await?))
}
