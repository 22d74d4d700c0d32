//! `/v1/admin/api-keys`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Call, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_engine::admin::ListKeys;
use hearth_types::admin::{ApiKeyView, CreateApiKey, CreatedApiKey, ListPage, UpdateApiKey};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    org_id: Option<String>,
    user_id: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn create(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    ApiJson(req): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let (key, secret) = app.engine.create_api_key(&actor, &call, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            view: ApiKeyView::from(&key),
            key: secret,
        }),
    ))
}

pub async fn list(
    State(app): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListPage<ApiKeyView>>, ApiError> {
    let query = ListKeys {
        org_id: params.org_id,
        user_id: params.user_id,
        after: params.after,
        limit: params.limit,
    };
    let (keys, more) = app.engine.list_api_keys(&actor, query).await?;
    let views = keys.iter().map(ApiKeyView::from).collect();
    Ok(Json(ListPage::new(views, more, |k: &ApiKeyView| &k.id)))
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.engine.get_api_key(&actor, &id).await?;
    Ok(Json(ApiKeyView::from(&key)))
}

pub async fn update(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateApiKey>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.engine.update_api_key(&actor, &call, &id, req).await?;
    Ok(Json(ApiKeyView::from(&key)))
}

pub async fn revoke(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.engine.revoke_api_key(&actor, &call, &id).await?;
    Ok(Json(ApiKeyView::from(&key)))
}
