//! Roles and the permissions they grant.
//!
//! A key acts as its user, so these rules are evaluated against the user's
//! *current* role on every call.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role inside their organisation, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control of the organisation, including its admins.
    Owner,
    /// Manages users (except owners), keys and limits; reads the audit log.
    Admin,
    /// Uses the platform: models, chat, agents.
    Member,
    /// Reads what the organisation has; changes nothing.
    Viewer,
}

/// Something a principal may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Call models and other work-doing endpoints.
    UseModels,
    /// List models and read shared resources.
    Read,
    /// Create, change and disable users; create and revoke their keys.
    ManageUsers,
    /// Change the organisation's settings, such as its limits.
    ManageOrg,
    /// Read the organisation's audit log and usage.
    ReadAudit,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role grants `permission`.
    pub const fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::UseModels => !matches!(self, Role::Viewer),
            Permission::ManageUsers | Permission::ManageOrg | Permission::ReadAudit => {
                matches!(self, Role::Owner | Role::Admin)
            }
        }
    }

    /// Whether a user of this role may assign `target` to someone, or change
    /// someone who currently holds `target`. Only owners touch owners.
    pub const fn may_manage(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(target, Role::Owner),
            Role::Member | Role::Viewer => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role '{}': expected one of owner, admin, member, viewer",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_admins_manage() {
        for role in Role::ALL {
            let manages = matches!(role, Role::Owner | Role::Admin);
            assert_eq!(role.allows(Permission::ManageUsers), manages, "{role}");
            assert_eq!(role.allows(Permission::ReadAudit), manages, "{role}");
        }
        assert!(!Role::Viewer.allows(Permission::UseModels));
        assert!(Role::Member.allows(Permission::UseModels));
    }

    #[test]
    fn admins_cannot_touch_owners() {
        assert!(Role::Owner.may_manage(Role::Owner));
        assert!(!Role::Admin.may_manage(Role::Owner));
        assert!(Role::Admin.may_manage(Role::Admin));
        assert!(!Role::Member.may_manage(Role::Viewer));
    }

    #[test]
    fn roles_round_trip_through_strings() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
