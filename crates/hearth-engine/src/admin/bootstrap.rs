//! First start: the default organisation and its owner, who is also the
//! instance owner.

use crate::{Engine, EngineError};
use hearth_security::keys;
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use hearth_types::{ApiKey, AuditEntry, Org, Role, User};

/// The organisation that bootstrap creates.
pub const DEFAULT_ORG_NAME: &str = "default";
/// The instance owner's email until changed.
pub const OWNER_EMAIL: &str = "owner@hearth.local";

/// What a first start created.
#[derive(Debug)]
pub struct Bootstrapped {
    pub org: Org,
    pub owner: User,
    /// The owner's generated key, when none was supplied: shown once.
    pub generated_secret: Option<String>,
}

impl Engine {
    /// On an empty database, creates the default organisation, the owner
    /// and the owner's first key (`admin_key` if given, else a generated
    /// one). On a bootstrapped database, makes sure `admin_key`, if given,
    /// is one of the owner's keys (unless it exists already, revoked or
    /// not), and returns `None`.
    pub async fn bootstrap(
        &self,
        admin_key: Option<&str>,
    ) -> Result<Option<Bootstrapped>, EngineError> {
        if let Some(key) = admin_key
            && key.chars().count() < keys::MIN_SECRET_LEN
        {
            return Err(EngineError::invalid(
                "HEARTH_ADMIN_KEY",
                format!(
                    "HEARTH_ADMIN_KEY must be at least {} characters",
                    keys::MIN_SECRET_LEN
                ),
            ));
        }
        if let Some(owner_id) = self.store.instance_owner().await? {
            if let Some(secret) = admin_key {
                self.ensure_owner_key(&owner_id, secret).await?;
            }
            return Ok(None);
        }
        let now = now_millis();
        let org = Org {
            id: new_id(IdKind::Org),
            name: DEFAULT_ORG_NAME.to_owned(),
            requests_per_minute: None,
            tokens_per_minute: None,
            allowed_models: None,
            created_at: now,
        };
        let owner = User {
            id: new_id(IdKind::User),
            org_id: org.id.clone(),
            email: OWNER_EMAIL.to_owned(),
            role: Role::Owner,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let (secret, generated) = match admin_key {
            Some(s) => (keys::from_secret(s.to_owned()), false),
            None => (keys::generate(), true),
        };
        let key = owner_key(&owner, &secret, now);
        let mut tx = self.store.begin().await?;
        tx.insert_org(&org).await?;
        tx.insert_user(&owner).await?;
        tx.insert_api_key(&key).await?;
        tx.set_instance(&owner.id, &org.id).await?;
        tx.append_audit(vec![system_record(
            &org.id,
            &owner.id,
            "instance.bootstrap",
            now,
        )])
        .await?;
        match tx.commit().await {
            Ok(()) => {}
            // Another replica bootstrapped first: theirs stands.
            Err(hearth_store::StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        Ok(Some(Bootstrapped {
            org,
            owner,
            generated_secret: generated.then_some(secret.secret),
        }))
    }

    async fn ensure_owner_key(&self, owner_id: &str, secret: &str) -> Result<(), EngineError> {
        let secret = keys::from_secret(secret.to_owned());
        if self
            .store
            .find_api_key_by_hash(&secret.hash)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let owner = self
            .store
            .get_user(owner_id)
            .await?
            .ok_or(EngineError::not_found("user"))?;
        let now = now_millis();
        let key = owner_key(&owner, &secret, now);
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key).await?;
        tx.append_audit(vec![system_record(
            &owner.org_id,
            &owner.id,
            "api_key.create",
            now,
        )])
        .await?;
        tx.commit().await?;
        self.auth.invalidate_key(&key.key_hash);
        Ok(())
    }
}

fn owner_key(owner: &User, secret: &keys::NewKey, now: i64) -> ApiKey {
    ApiKey {
        id: new_id(IdKind::ApiKey),
        org_id: owner.org_id.clone(),
        user_id: owner.id.clone(),
        name: Some("bootstrap".to_owned()),
        prefix: secret.prefix.clone(),
        key_hash: secret.hash.clone(),
        created_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        requests_per_minute: None,
    }
}

/// The audit record of a change made by Hearth itself at start-up.
fn system_record(org_id: &str, resource_id: &str, action: &str, now: i64) -> AuditEntry {
    AuditEntry {
        id: new_id(IdKind::Audit),
        created_at: now,
        request_id: "startup".to_owned(),
        org_id: Some(org_id.to_owned()),
        method: "SYSTEM".to_owned(),
        path: "startup".to_owned(),
        status: 200,
        action: Some(action.to_owned()),
        resource_id: Some(resource_id.to_owned()),
        ..AuditEntry::default()
    }
}
