//! `GET /v1/admin/usage`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use axum::Json;
use axum::extract::State;
use hearth_engine::admin::UsageParams;
use hearth_types::usage::{UsageGroup, UsageTotal};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    org_id: Option<String>,
    user_id: Option<String>,
    model: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    #[serde(default)]
    group_by: UsageGroup,
}

#[derive(Serialize)]
pub struct UsageReport {
    object: &'static str,
    group_by: UsageGroup,
    data: Vec<UsageTotal>,
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(p): ApiQuery<Params>,
) -> Result<Json<UsageReport>, ApiError> {
    let group_by = p.group_by;
    let params = UsageParams {
        org_id: p.org_id,
        user_id: p.user_id,
        model: p.model,
        since: p.since,
        until: p.until,
        group_by,
    };
    let data = app.engine.usage(&actor, &app.audit, params).await?;
    Ok(Json(UsageReport {
        object: "usage",
        group_by,
        data,
    }))
}
