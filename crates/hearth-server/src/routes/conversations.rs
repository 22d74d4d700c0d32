//! `/v1/conversations`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Call, Caller};
use crate::routes::responses::{ListParams, item_page};
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value};

pub async fn create(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        app.engine.create_conversation(&actor, &call, &body).await?,
    ))
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.get_conversation(&actor, &id).await?))
}

pub async fn update(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        app.engine
            .update_conversation(&actor, &call, &id, &body)
            .await?,
    ))
}

pub async fn delete(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        app.engine.delete_conversation(&actor, &call, &id).await?,
    ))
}

pub async fn items(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let (items, more) = app
        .engine
        .list_conversation_items(&actor, &id, params.into())
        .await?;
    Ok(item_page(items, more))
}

pub async fn item(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path((id, item_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        app.engine
            .get_conversation_item(&actor, &id, &item_id)
            .await?,
    ))
}
