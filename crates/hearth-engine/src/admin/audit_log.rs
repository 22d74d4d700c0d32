//! Reading the audit log.

use super::page_size;
use crate::{Engine, EngineError};
use hearth_security::Principal;
use hearth_security::audit::AuditSink;
use hearth_store::ChainReport;
use hearth_types::{AuditEntry, AuditFilter, Permission};

/// An admin's audit query, as it arrives from the API.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Another organisation (instance owner only); `all` for every one.
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub key_prefix: Option<String>,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
    pub status: Option<i64>,
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Cursor: the `id` of the last record of the previous page.
    pub after: Option<String>,
    pub limit: Option<i64>,
}

impl Engine {
    /// Audit records, newest first. Flushes the audit buffer first, so the
    /// caller sees every call that finished before this one.
    pub async fn list_audit(
        &self,
        actor: &Principal,
        sink: &AuditSink,
        query: AuditQuery,
    ) -> Result<(Vec<AuditEntry>, bool), EngineError> {
        actor.require(Permission::ReadAudit)?;
        let org_id = match query.org_id.as_deref() {
            None => Some(actor.org_id().to_owned()),
            Some("all") if actor.is_instance_owner() => None,
            Some(id) => {
                actor.reach(id, "organization")?;
                Some(id.to_owned())
            }
        };
        let limit = page_size(query.limit)?;
        let before_seq = match &query.after {
            None => None,
            Some(id) => Some(
                self.store
                    .audit_seq_of(id, org_id.as_deref())
                    .await?
                    .ok_or_else(|| {
                        EngineError::invalid("after", format!("'{id}' is not an audit record id"))
                    })?,
            ),
        };
        sink.flush().await;
        let filter = AuditFilter {
            org_id,
            user_id: query.user_id,
            key_prefix: query.key_prefix,
            method: query.method.map(|m| m.to_ascii_uppercase()),
            path_prefix: query.path_prefix,
            status: query.status,
            action: query.action,
            since: query.since.map(|s| s.saturating_mul(1000)),
            until: query.until.map(|s| s.saturating_mul(1000)),
            before_seq,
            limit: limit + 1,
        };
        let mut entries = self.store.list_audit(&filter).await?;
        let cap = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = entries.len() > cap;
        entries.truncate(cap);
        Ok((entries, more))
    }

    /// Recomputes the whole audit hash chain. Instance owner only, since
    /// the chain spans every organisation.
    pub async fn verify_audit(
        &self,
        actor: &Principal,
        sink: &AuditSink,
    ) -> Result<ChainReport, EngineError> {
        if !actor.is_instance_owner() {
            return Err(hearth_security::Denied::Forbidden {
                role: actor.role().to_string(),
                needed: "the instance owner (the bootstrap user)",
            }
            .into());
        }
        sink.flush().await;
        Ok(self.store.verify_audit_chain().await?)
    }
}
