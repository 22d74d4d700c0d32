//! Administration: organisations, users, API keys and the audit log.
//!
//! Every state change commits its audit record in the same transaction,
//! and invalidates the authenticator's cache entries it affects, so the
//! change applies to the very next call on this node.

mod audit_log;
mod bootstrap;
mod keys;
mod orgs;
mod usage;
mod users;

pub use audit_log::AuditQuery;
pub use bootstrap::{Bootstrapped, DEFAULT_ORG_NAME, OWNER_EMAIL};
pub use keys::ListKeys;
pub use usage::UsageParams;
pub use users::ListUsers;

use crate::{CallContext, EngineError};
use hearth_security::Principal;
use hearth_types::AuditEntry;
use hearth_types::id::{IdKind, new_id};

/// Default and largest page sizes for list calls.
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// Clamps a client-supplied page size, naming the field when it is out of
/// range.
pub(crate) fn page_size(limit: Option<i64>) -> Result<i64, EngineError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(EngineError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}, got {n}"),
        )),
    }
}

/// The audit record of a state change.
pub(crate) fn action_record(
    call: &CallContext,
    actor: &Principal,
    org_id: &str,
    action: &str,
    resource_id: &str,
    now: i64,
) -> AuditEntry {
    AuditEntry {
        id: new_id(IdKind::Audit),
        created_at: now,
        request_id: call.request_id.clone(),
        org_id: Some(org_id.to_owned()),
        user_id: Some(actor.user_id().to_owned()),
        key_prefix: actor.key_prefix().map(str::to_owned),
        method: call.method.clone(),
        path: call.path.clone(),
        // State-change records are written only when the change commits.
        status: 200,
        action: Some(action.to_owned()),
        resource_id: Some(resource_id.to_owned()),
        client_addr: call.client_addr.clone(),
        user_agent: call.user_agent.clone(),
        ..AuditEntry::default()
    }
}

/// Validates an optional per-minute limit.
pub(crate) fn check_limit(param: &'static str, value: Option<i64>) -> Result<(), EngineError> {
    match value {
        Some(n) if !(1..=1_000_000_000_000).contains(&n) => Err(EngineError::invalid(
            param,
            format!("{param} must be a positive integer, got {n}"),
        )),
        _ => Ok(()),
    }
}

/// Validates a short display name.
pub(crate) fn check_name(param: &'static str, value: &str) -> Result<(), EngineError> {
    let len = value.chars().count();
    if value.trim().is_empty() || len > 200 {
        return Err(EngineError::invalid(
            param,
            format!("{param} must be 1 to 200 characters"),
        ));
    }
    Ok(())
}
