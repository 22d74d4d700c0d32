//! API keys: each acts as its user. Owners and admins create and revoke
//! keys for the users they may manage.

use super::{action_record, check_limit, check_name, page_size};
use crate::{CallContext, Engine, EngineError};
use hearth_security::{Principal, keys};
use hearth_types::admin::{CreateApiKey, UpdateApiKey};
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use hearth_types::{ApiKey, Permission};

/// Which keys to list.
#[derive(Debug, Clone, Default)]
pub struct ListKeys {
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

impl Engine {
    /// Creates a key for a user. Returns the key and its secret, which is
    /// never available again.
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        call: &CallContext,
        req: CreateApiKey,
    ) -> Result<(ApiKey, String), EngineError> {
        let user = self.get_user(actor, &req.user_id).await?;
        if !actor.role().may_manage(user.role) {
            return Err(hearth_security::Denied::Forbidden {
                role: actor.role().to_string(),
                needed: "the owner role to create keys for owners",
            }
            .into());
        }
        if let Some(name) = &req.name {
            check_name("name", name)?;
        }
        check_limit("requests_per_minute", req.requests_per_minute)?;
        let now = now_millis();
        let expires_at = match req.expires_at {
            Some(secs) if secs.saturating_mul(1000) <= now => {
                return Err(EngineError::invalid(
                    "expires_at",
                    "expires_at must be a Unix time in the future",
                ));
            }
            Some(secs) => Some(secs.saturating_mul(1000)),
            None => None,
        };
        let secret = keys::generate();
        let key = ApiKey {
            id: new_id(IdKind::ApiKey),
            org_id: user.org_id.clone(),
            user_id: user.id.clone(),
            name: req.name,
            prefix: secret.prefix.clone(),
            key_hash: secret.hash.clone(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            requests_per_minute: req.requests_per_minute,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &key.org_id,
            "api_key.create",
            &key.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        // A lookup of this secret may have been cached as unknown.
        self.auth.invalidate_key(&key.key_hash);
        Ok((key, secret.secret))
    }

    pub async fn list_api_keys(
        &self,
        actor: &Principal,
        query: ListKeys,
    ) -> Result<(Vec<ApiKey>, bool), EngineError> {
        actor.require(Permission::ManageUsers)?;
        let org_id = query.org_id.unwrap_or_else(|| actor.org_id().to_owned());
        actor.reach(&org_id, "organization")?;
        let limit = page_size(query.limit)?;
        let cap = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut keys = self
            .store
            .list_api_keys(
                &org_id,
                query.user_id.as_deref(),
                query.after.as_deref(),
                limit + 1,
            )
            .await?;
        let more = keys.len() > cap;
        keys.truncate(cap);
        Ok((keys, more))
    }

    pub async fn get_api_key(&self, actor: &Principal, id: &str) -> Result<ApiKey, EngineError> {
        actor.require(Permission::ManageUsers)?;
        let key = self
            .store
            .get_api_key(id)
            .await?
            .ok_or(EngineError::not_found("API key"))?;
        actor.reach(&key.org_id, "API key")?;
        Ok(key)
    }

    pub async fn update_api_key(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
        req: UpdateApiKey,
    ) -> Result<ApiKey, EngineError> {
        let mut key = self.get_api_key(actor, id).await?;
        self.check_key_owner(actor, &key).await?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            key.name = Some(name);
        }
        if let Some(rpm) = req.requests_per_minute {
            check_limit("requests_per_minute", rpm)?;
            key.requests_per_minute = rpm;
        }
        self.save_key(actor, call, &key, "api_key.update").await?;
        Ok(key)
    }

    /// Revokes a key. It stops working on the next call on this node.
    /// Revoking twice is not an error; the first revocation time stays.
    pub async fn revoke_api_key(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
    ) -> Result<ApiKey, EngineError> {
        let mut key = self.get_api_key(actor, id).await?;
        self.check_key_owner(actor, &key).await?;
        if key.revoked_at.is_none() {
            key.revoked_at = Some(now_millis());
            self.save_key(actor, call, &key, "api_key.revoke").await?;
        }
        Ok(key)
    }

    /// Admins may not change the keys of owners.
    async fn check_key_owner(&self, actor: &Principal, key: &ApiKey) -> Result<(), EngineError> {
        let owner = self.get_user(actor, &key.user_id).await?;
        if actor.role().may_manage(owner.role) {
            Ok(())
        } else {
            Err(hearth_security::Denied::Forbidden {
                role: actor.role().to_string(),
                needed: "the owner role to change owners' keys",
            }
            .into())
        }
    }

    async fn save_key(
        &self,
        actor: &Principal,
        call: &CallContext,
        key: &ApiKey,
        action: &str,
    ) -> Result<(), EngineError> {
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        tx.update_api_key(key).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &key.org_id,
            action,
            &key.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        self.auth.invalidate_key(&key.key_hash);
        Ok(())
    }
}
