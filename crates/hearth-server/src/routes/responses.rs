//! `/v1/responses`: Chat Actions.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Call, Caller};
use crate::meter::Meter;
use crate::sse;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use hearth_engine::responses::ListItems;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `after`, `limit`, `order` of an item listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    after: Option<String>,
    limit: Option<i64>,
    order: Option<String>,
    /// Accepted for OpenAI compatibility; every field is always included.
    #[serde(default)]
    #[allow(dead_code)]
    include: Option<String>,
}

impl From<ListParams> for ListItems {
    fn from(p: ListParams) -> Self {
        ListItems {
            after: p.after,
            limit: p.limit,
            order: p.order,
        }
    }
}

/// An OpenAI list page of items (every item carries an `id`).
pub fn item_page(items: Vec<Value>, has_more: bool) -> Json<Value> {
    let id_of = |v: Option<&Value>| v.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    Json(json!({
        "object": "list",
        "first_id": id_of(items.first()),
        "last_id": id_of(items.last()),
        "has_more": has_more,
        "data": items,
    }))
}

pub async fn create(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    meter: Meter,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    if let Some(model) = body.get("model").and_then(Value::as_str) {
        meter.set_model(model);
    }
    let handle = app.engine.create_response(&actor, &call, &body).await?;
    if handle.stream {
        return Ok(sse::relay_response(handle, meter));
    }
    let hearth_engine::responses::ResponseHandle { done, usage, .. } = &mut { handle };
    let result = done.await.map_err(|_| ApiError::internal())?;
    meter.report(*usage.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Json(result?).into_response())
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.get_response(&actor, &id).await?))
}

pub async fn delete(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.delete_response(&actor, &call, &id).await?))
}

pub async fn input_items(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let (items, more) = app
        .engine
        .list_input_items(&actor, &id, params.into())
        .await?;
    Ok(item_page(items, more))
}
