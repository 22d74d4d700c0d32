//! Audit log records and the filters admins query them with.

use crate::time::UnixMillis;

/// One audit record: an API call, or a state change made inside one.
///
/// Records form a hash chain in `seq` order: `hash` covers the record's
/// fields and `prev_hash`, so editing or deleting a stored record breaks
/// every later link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    /// Position in the chain; assigned by the store when appended.
    pub seq: i64,
    pub id: String,
    pub created_at: UnixMillis,
    pub request_id: String,
    /// `None` for calls that never authenticated (401s).
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub key_prefix: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub latency_us: i64,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// For state changes: what was done, e.g. `user.create`.
    pub action: Option<String>,
    /// For state changes: the id of the resource acted on.
    pub resource_id: Option<String>,
    /// For model calls: the model id the client asked for.
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// Lower-case hex SHA-256 of the previous record (empty for the first).
    pub prev_hash: String,
    /// Lower-case hex SHA-256 of this record; see `hearth_store::audit`.
    pub hash: String,
}

/// Which audit records to return, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Restrict to one organisation; `None` only for the instance owner.
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub key_prefix: Option<String>,
    pub method: Option<String>,
    /// Records whose path starts with this.
    pub path_prefix: Option<String>,
    pub status: Option<i64>,
    pub action: Option<String>,
    /// Inclusive lower bound on `created_at`.
    pub since: Option<UnixMillis>,
    /// Exclusive upper bound on `created_at`.
    pub until: Option<UnixMillis>,
    /// Cursor: only records older than the one with this `seq`.
    pub before_seq: Option<i64>,
    /// At most this many records (the caller bounds it).
    pub limit: i64,
}
