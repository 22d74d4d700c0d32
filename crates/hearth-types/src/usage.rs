//! Token usage of model calls, and how admins read it back.

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// The usage of one model call, attributed to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub id: String,
    pub created_at: UnixMillis,
    pub request_id: String,
    pub org_id: String,
    pub user_id: String,
    pub key_id: Option<String>,
    /// The model id the client asked for, after alias resolution.
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// The upstream reported no usage (say, the client abandoned a stream
    /// first) and these counts are Hearth's estimate.
    pub estimated: bool,
}

/// How usage is grouped when summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    #[default]
    Model,
    User,
    Key,
    /// UTC calendar day; the group is the day's start in Unix seconds.
    Day,
}

/// Which usage to sum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageQuery {
    /// One organisation, or `None` for every one (instance owner only).
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub model: Option<String>,
    /// Inclusive.
    pub since: Option<UnixMillis>,
    /// Exclusive.
    pub until: Option<UnixMillis>,
    pub group_by: UsageGroup,
}

/// One group of summed usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageTotal {
    /// The model id, user id, key id (empty for calls without a key) or day.
    pub group: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}
