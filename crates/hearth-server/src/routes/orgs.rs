//! `/v1/admin/orgs`.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Call, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_types::admin::{CreateOrg, ListPage, OrgView, UpdateOrg};

pub async fn create(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    ApiJson(req): ApiJson<CreateOrg>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let org = app.engine.create_org(&actor, &call, req).await?;
    Ok((StatusCode::CREATED, Json(OrgView::from(&org))))
}

pub async fn list(
    State(app): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<ListPage<OrgView>>, ApiError> {
    let orgs = app.engine.list_orgs(&actor).await?;
    let views = orgs.iter().map(OrgView::from).collect();
    Ok(Json(ListPage::new(views, false, |o: &OrgView| &o.id)))
}

pub async fn get(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<OrgView>, ApiError> {
    let org = app.engine.get_org(&actor, &id).await?;
    Ok(Json(OrgView::from(&org)))
}

pub async fn update(
    State(app): State<AppState>,
    Caller(actor): Caller,
    Call(call): Call,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateOrg>,
) -> Result<Json<OrgView>, ApiError> {
    let org = app.engine.update_org(&actor, &call, &id, req).await?;
    Ok(Json(OrgView::from(&org)))
}
