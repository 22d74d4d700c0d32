//! Reading token usage.

use crate::{Engine, EngineError};
use hearth_security::Principal;
use hearth_security::audit::AuditSink;
use hearth_types::Permission;
use hearth_types::usage::{UsageGroup, UsageQuery, UsageTotal};

/// An admin's usage query, as it arrives from the API.
#[derive(Debug, Clone, Default)]
pub struct UsageParams {
    /// Another organisation (instance owner only); `all` for every one.
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub model: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    pub group_by: UsageGroup,
}

impl Engine {
    /// Token usage summed by model, user, key or day. Flushes the audit
    /// buffer first (usage is written with the audit records), so calls
    /// that finished before this one are counted.
    pub async fn usage(
        &self,
        actor: &Principal,
        sink: &AuditSink,
        params: UsageParams,
    ) -> Result<Vec<UsageTotal>, EngineError> {
        actor.require(Permission::ReadAudit)?;
        let org_id = match params.org_id.as_deref() {
            None => Some(actor.org_id().to_owned()),
            Some("all") if actor.is_instance_owner() => None,
            Some(id) => {
                actor.reach(id, "organization")?;
                Some(id.to_owned())
            }
        };
        sink.flush().await;
        let query = UsageQuery {
            org_id,
            user_id: params.user_id,
            model: params.model,
            since: params.since.map(|s| s.saturating_mul(1000)),
            until: params.until.map(|s| s.saturating_mul(1000)),
            group_by: params.group_by,
        };
        Ok(self.store.usage_totals(&query).await?)
    }
}
