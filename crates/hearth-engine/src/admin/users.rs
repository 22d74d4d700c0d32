//! Users: created, re-roled and disabled by their organisation's owners
//! and admins. Only owners touch owners.

use super::{action_record, page_size};
use crate::{CallContext, Engine, EngineError};
use hearth_security::{Denied, Principal};
use hearth_types::admin::{CreateUser, UpdateUser};
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use hearth_types::{Permission, Role, User};

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct ListUsers {
    /// Another organisation (instance owner only); defaults to the caller's.
    pub org_id: Option<String>,
    /// Cursor: users with ids after this one.
    pub after: Option<String>,
    pub limit: Option<i64>,
}

impl Engine {
    pub async fn create_user(
        &self,
        actor: &Principal,
        call: &CallContext,
        req: CreateUser,
    ) -> Result<User, EngineError> {
        actor.require(Permission::ManageUsers)?;
        let org_id = req.org_id.unwrap_or_else(|| actor.org_id().to_owned());
        actor.reach(&org_id, "organization")?;
        if self.store.get_org(&org_id).await?.is_none() {
            return Err(EngineError::not_found("organization"));
        }
        may_manage(actor, req.role)?;
        let email = normalize_email(&req.email)?;
        let now = now_millis();
        let user = User {
            id: new_id(IdKind::User),
            org_id,
            email,
            role: req.role,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_user(&user).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &user.org_id,
            "user.create",
            &user.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Users of one organisation, by id; returns the page and whether more
    /// follow.
    pub async fn list_users(
        &self,
        actor: &Principal,
        query: ListUsers,
    ) -> Result<(Vec<User>, bool), EngineError> {
        actor.require(Permission::ManageUsers)?;
        let org_id = query.org_id.unwrap_or_else(|| actor.org_id().to_owned());
        actor.reach(&org_id, "organization")?;
        let limit = page_size(query.limit)?;
        let mut users = self
            .store
            .list_users(&org_id, query.after.as_deref(), limit + 1)
            .await?;
        let more = users.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((users, more))
    }

    pub async fn get_user(&self, actor: &Principal, id: &str) -> Result<User, EngineError> {
        actor.require(Permission::ManageUsers)?;
        let user = self
            .store
            .get_user(id)
            .await?
            .ok_or(EngineError::not_found("user"))?;
        actor.reach(&user.org_id, "user")?;
        Ok(user)
    }

    /// Changes a user's role or disables/enables them. Takes effect for all
    /// of the user's keys on the next call.
    pub async fn update_user(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
        req: UpdateUser,
    ) -> Result<User, EngineError> {
        let mut user = self.get_user(actor, id).await?;
        may_manage(actor, user.role)?;
        let is_instance_owner = self.store.instance_owner().await?.as_deref() == Some(&user.id);
        if let Some(role) = req.role {
            may_manage(actor, role)?;
            if is_instance_owner && role != Role::Owner {
                return Err(EngineError::invalid(
                    "role",
                    "the instance owner cannot be demoted",
                ));
            }
            user.role = role;
        }
        if let Some(disabled) = req.disabled {
            if disabled && is_instance_owner {
                return Err(EngineError::invalid(
                    "disabled",
                    "the instance owner cannot be disabled",
                ));
            }
            user.disabled = disabled;
        }
        let now = now_millis();
        user.updated_at = now;
        let mut tx = self.store.begin().await?;
        tx.update_user(&user).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &user.org_id,
            "user.update",
            &user.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        self.auth.invalidate_user(&user.id);
        Ok(user)
    }
}

/// Fails with 403 unless the actor may assign or change `role`.
fn may_manage(actor: &Principal, role: Role) -> Result<(), EngineError> {
    if actor.role().may_manage(role) {
        Ok(())
    } else {
        Err(Denied::Forbidden {
            role: actor.role().to_string(),
            needed: "the owner role to manage owners",
        }
        .into())
    }
}

/// Lower-cases and checks an email address.
fn normalize_email(raw: &str) -> Result<String, EngineError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(EngineError::invalid(
            "email",
            format!("'{raw}' is not a valid email address"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@example.com", "ann@", "a b@example.com"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
