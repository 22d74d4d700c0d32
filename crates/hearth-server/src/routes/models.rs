//! `GET /v1/models` and `GET /v1/models/{id}`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::Caller;
use axum::Json;
use axum::extract::{Path, State};
use hearth_engine::gateway::ModelView;
use serde::Serialize;

#[derive(Serialize)]
pub struct ModelList {
    object: &'static str,
    data: Vec<ModelView>,
}

pub async fn list(
    State(app): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<ModelList>, ApiError> {
    let data = app.engine.list_models(&actor).await?;
    Ok(Json(ModelList {
        object: "list",
        data,
    }))
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<ModelView>, ApiError> {
    Ok(Json(app.engine.get_model(&actor, &id).await?))
}
