//! The admin API's JSON bodies: requests in, views out.
//!
//! Views use OpenAI's conventions (snake_case, an `object` tag, Unix
//! seconds), since the admin API sits next to OpenAI-shaped endpoints.

use crate::audit::AuditEntry;
use crate::identity::{ApiKey, Org, User};
use crate::role::Role;
use crate::time::millis_to_secs;
use serde::{Deserialize, Deserializer, Serialize};

/// Distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`), so PATCH bodies can reset a value to its default.
fn explicit_null<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
    #[serde(default)]
    pub requests_per_minute: Option<i64>,
    #[serde(default)]
    pub tokens_per_minute: Option<i64>,
    /// Model ids the organisation may use; absent or `null` means all.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default)]
    pub name: Option<String>,
    /// `null` returns the organisation to the configured default.
    #[serde(default, deserialize_with = "explicit_null")]
    pub requests_per_minute: Option<Option<i64>>,
    #[serde(default, deserialize_with = "explicit_null")]
    pub tokens_per_minute: Option<Option<i64>>,
    /// `null` lets the organisation use every configured model again.
    #[serde(default, deserialize_with = "explicit_null")]
    pub allowed_models: Option<Option<Vec<String>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub role: Role,
    /// Defaults to the caller's organisation.
    #[serde(default)]
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Unix seconds after which the key stops working.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub requests_per_minute: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    #[serde(default)]
    pub name: Option<String>,
    /// `null` removes the key's own limit.
    #[serde(default, deserialize_with = "explicit_null")]
    pub requests_per_minute: Option<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgView {
    pub id: String,
    pub object: &'static str,
    pub name: String,
    pub requests_per_minute: Option<i64>,
    pub tokens_per_minute: Option<i64>,
    pub allowed_models: Option<Vec<String>>,
    pub created_at: i64,
}

impl From<&Org> for OrgView {
    fn from(o: &Org) -> Self {
        OrgView {
            id: o.id.clone(),
            object: "organization",
            name: o.name.clone(),
            requests_per_minute: o.requests_per_minute,
            tokens_per_minute: o.tokens_per_minute,
            allowed_models: o.allowed_models.clone(),
            created_at: millis_to_secs(o.created_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    pub id: String,
    pub object: &'static str,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            object: "user",
            org_id: u.org_id.clone(),
            email: u.email.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: millis_to_secs(u.created_at),
            updated_at: millis_to_secs(u.updated_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyView {
    pub id: String,
    pub object: &'static str,
    pub org_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub requests_per_minute: Option<i64>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            object: "api_key",
            org_id: k.org_id.clone(),
            user_id: k.user_id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: millis_to_secs(k.created_at),
            expires_at: k.expires_at.map(millis_to_secs),
            revoked_at: k.revoked_at.map(millis_to_secs),
            last_used_at: k.last_used_at.map(millis_to_secs),
            requests_per_minute: k.requests_per_minute,
        }
    }
}

/// A newly created key: the only response that ever carries the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntryView {
    pub id: String,
    pub object: &'static str,
    pub seq: i64,
    pub created_at: i64,
    pub created_at_ms: i64,
    pub request_id: String,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub key_prefix: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub latency_ms: f64,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub action: Option<String>,
    pub resource_id: Option<String>,
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub hash: String,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryView {
            id: e.id.clone(),
            object: "audit_log",
            seq: e.seq,
            created_at: millis_to_secs(e.created_at),
            created_at_ms: e.created_at,
            request_id: e.request_id.clone(),
            org_id: e.org_id.clone(),
            user_id: e.user_id.clone(),
            key_prefix: e.key_prefix.clone(),
            method: e.method.clone(),
            path: e.path.clone(),
            status: e.status,
            latency_ms: e.latency_us as f64 / 1000.0,
            client_addr: e.client_addr.clone(),
            user_agent: e.user_agent.clone(),
            action: e.action.clone(),
            resource_id: e.resource_id.clone(),
            model: e.model.clone(),
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            hash: e.hash.clone(),
        }
    }
}

/// An OpenAI-style list page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListPage<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

impl<T> ListPage<T> {
    /// Builds a page; `id_of` reads the cursor id of an element.
    pub fn new(data: Vec<T>, has_more: bool, id_of: impl Fn(&T) -> &str) -> Self {
        let first_id = data.first().map(|d| id_of(d).to_owned());
        let last_id = data.last().map(|d| id_of(d).to_owned());
        ListPage {
            object: "list",
            data,
            has_more,
            first_id,
            last_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_bodies_tell_null_from_absent() {
        let absent: UpdateOrg = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.requests_per_minute, None);
        let null: UpdateOrg = serde_json::from_str(r#"{"requests_per_minute":null}"#).unwrap();
        assert_eq!(null.requests_per_minute, Some(None));
        let set: UpdateOrg = serde_json::from_str(r#"{"requests_per_minute":5}"#).unwrap();
        assert_eq!(set.requests_per_minute, Some(Some(5)));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<UpdateUser>(r#"{"disable":true}"#).unwrap_err();
        assert!(err.to_string().contains("disable"), "{err}");
    }
}
