//! The authenticated caller: a user of an organisation, acting through one
//! API key.

use crate::error::Denied;
use hearth_types::{Permission, Role};

/// Who is calling. Built only by [`crate::Authenticator`], from the key's
/// user as stored *now*, so a demotion or a disabled user takes effect on
/// the next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    org_id: String,
    user_id: String,
    role: Role,
    /// The key's id and visible prefix; `None` for the local operator (CLI).
    key: Option<(String, String)>,
    /// The bootstrap user: the one principal that may create organisations
    /// and act inside any of them.
    instance_owner: bool,
    /// The key's own requests-per-minute limit, if it has one.
    key_requests_per_minute: Option<i64>,
}

impl Principal {
    pub(crate) fn new(
        org_id: String,
        user_id: String,
        role: Role,
        key: Option<(String, String)>,
        instance_owner: bool,
        key_requests_per_minute: Option<i64>,
    ) -> Self {
        Principal {
            org_id,
            user_id,
            role,
            key,
            instance_owner,
            key_requests_per_minute,
        }
    }

    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|(id, _)| id.as_str())
    }

    pub fn key_prefix(&self) -> Option<&str> {
        self.key.as_ref().map(|(_, prefix)| prefix.as_str())
    }

    pub fn is_instance_owner(&self) -> bool {
        self.instance_owner
    }

    pub fn key_requests_per_minute(&self) -> Option<i64> {
        self.key_requests_per_minute
    }

    /// Fails with 403 unless the role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(Denied::Forbidden {
                role: self.role.to_string(),
                needed: needed_role(permission),
            })
        }
    }

    /// Whether this principal may see resources of `org_id` at all. Callers
    /// answer 404 when it may not, so ids of other organisations reveal
    /// nothing.
    pub fn can_reach_org(&self, org_id: &str) -> bool {
        self.instance_owner || self.org_id == org_id
    }

    /// `Ok` when `org_id` is reachable, else `NotFound(what)`.
    pub fn reach(&self, org_id: &str, what: &'static str) -> Result<(), Denied> {
        if self.can_reach_org(org_id) {
            Ok(())
        } else {
            Err(Denied::NotFound(what))
        }
    }
}

fn needed_role(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "any role",
        Permission::UseModels => "the member, admin or owner role",
        Permission::ManageUsers | Permission::ManageOrg | Permission::ReadAudit => {
            "the admin or owner role"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, instance_owner: bool) -> Principal {
        Principal::new(
            "org_a".into(),
            "user_a".into(),
            role,
            None,
            instance_owner,
            None,
        )
    }

    #[test]
    fn members_are_forbidden_admin_work() {
        let err = principal(Role::Member, false)
            .require(Permission::ManageUsers)
            .unwrap_err();
        assert!(matches!(err, Denied::Forbidden { .. }));
        assert!(
            principal(Role::Admin, false)
                .require(Permission::ManageUsers)
                .is_ok()
        );
    }

    #[test]
    fn other_orgs_are_not_found_except_for_the_instance_owner() {
        assert_eq!(
            principal(Role::Owner, false).reach("org_b", "user"),
            Err(Denied::NotFound("user"))
        );
        assert!(principal(Role::Owner, true).reach("org_b", "user").is_ok());
    }
}
