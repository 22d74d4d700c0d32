//! `/v1/admin/users`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Call, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_engine::admin::ListUsers;
use hearth_types::admin::{CreateUser, ListPage, UpdateUser, UserView};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    org_id: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn create(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = app.engine.create_user(&actor, &call, req).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

pub async fn list(
    State(app): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListPage<UserView>>, ApiError> {
    let query = ListUsers {
        org_id: params.org_id,
        after: params.after,
        limit: params.limit,
    };
    let (users, more) = app.engine.list_users(&actor, query).await?;
    let views = users.iter().map(UserView::from).collect();
    Ok(Json(ListPage::new(views, more, |u: &UserView| &u.id)))
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = app.engine.get_user(&actor, &id).await?;
    Ok(Json(UserView::from(&user)))
}

pub async fn update(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    let user = app.engine.update_user(&actor, &call, &id, req).await?;
    Ok(Json(UserView::from(&user)))
}
