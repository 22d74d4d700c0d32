//! `GET /v1/me`: who the presented key acts as.

use crate::extract::Caller;
use axum::Json;
use serde_json::{Value, json};

pub async fn get(Caller(p): Caller) -> Json<Value> {
    Json(json!({
        "object": "principal",
        "org_id": p.org_id(),
        "user_id": p.user_id(),
        "role": p.role(),
        "key_prefix": p.key_prefix(),
        "instance_owner": p.is_instance_owner(),
    }))
}
