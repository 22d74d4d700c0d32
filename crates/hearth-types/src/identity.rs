//! Organisations, users and API keys as Hearth stores them.

use crate::role::Role;
use crate::time::UnixMillis;

/// An organisation: the tenant every other record belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// Requests per minute for the whole organisation; `None` uses the
    /// configured default.
    pub requests_per_minute: Option<i64>,
    /// Model tokens per minute for the whole organisation; `None` uses the
    /// configured default.
    pub tokens_per_minute: Option<i64>,
    /// The model ids this organisation may use; `None` means every
    /// configured model.
    pub allowed_models: Option<Vec<String>>,
    pub created_at: UnixMillis,
}

/// A person (or service account) inside one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    /// Unique within the organisation, compared case-insensitively (stored
    /// lower-cased).
    pub email: String,
    pub role: Role,
    /// A disabled user's keys are refused with 401 until re-enabled.
    pub disabled: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// An API key. The secret itself is never stored: only its SHA-256 digest,
/// which is what lookups use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub name: Option<String>,
    /// The first characters of the secret, safe to show and log.
    pub prefix: String,
    /// Lower-case hex SHA-256 of the whole secret.
    pub key_hash: String,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
    /// Requests per minute for this key alone; `None` means only the
    /// organisation's limit applies.
    pub requests_per_minute: Option<i64>,
}

impl ApiKey {
    /// Whether the key may authenticate at `now`.
    pub fn is_usable_at(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|exp| now < exp)
    }
}
