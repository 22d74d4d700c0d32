//! Authentication: from a presented secret to a [`Principal`].
//!
//! Lookups are cached (key by hash, user by id, org by id) so the hot path
//! touches no database; every change made through this node invalidates
//! the affected entry at once, and the TTL bounds how long a change made on
//! another replica takes to arrive.

use crate::cache::TtlCache;
use crate::error::AuthError;
use crate::keys;
use crate::principal::Principal;
use hearth_store::{Store, StoreError};
use hearth_types::time::now_millis;
use hearth_types::{ApiKey, Org, User};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the authenticator caches.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// How long a looked-up key, user or organisation is trusted without
    /// asking the database again.
    pub cache_ttl: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            cache_ttl: Duration::from_secs(10),
        }
    }
}

/// Whose key a refused call presented, when the key exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub org_id: String,
    pub user_id: String,
    pub key_prefix: String,
}

/// A refused authentication, and whose key it was if the key is known
/// (revoked, expired, or its user disabled).
#[derive(Debug)]
pub struct AuthFailure {
    pub error: AuthError,
    pub owner: Option<KeyOwner>,
}

impl AuthFailure {
    /// A refusal that cannot be tied to any key.
    pub fn anonymous(error: AuthError) -> Self {
        AuthFailure { error, owner: None }
    }
}

/// Turns secrets into principals. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// By key hash; `None` caches "no such key" so a flood of bad keys does
    /// not become a flood of queries.
    keys: TtlCache<Option<Arc<ApiKey>>>,
    users: TtlCache<Arc<User>>,
    orgs: TtlCache<Arc<Org>>,
    /// The instance owner's user id, once known. It is set at bootstrap and
    /// never changes afterwards.
    owner: RwLock<Option<String>>,
}

const KEY_CACHE_CAPACITY: usize = 100_000;
const USER_CACHE_CAPACITY: usize = 100_000;
const ORG_CACHE_CAPACITY: usize = 10_000;

impl Authenticator {
    pub fn new(store: Store, options: &AuthOptions) -> Self {
        let ttl = options.cache_ttl;
        Authenticator {
            inner: Arc::new(Inner {
                store,
                keys: TtlCache::new(ttl, KEY_CACHE_CAPACITY),
                users: TtlCache::new(ttl, USER_CACHE_CAPACITY),
                orgs: TtlCache::new(ttl, ORG_CACHE_CAPACITY),
                owner: RwLock::new(None),
            }),
        }
    }

    /// Authenticates a presented secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, AuthFailure> {
        let key = self
            .key_by_hash(&keys::hash(secret))
            .await
            .map_err(|e| AuthFailure::anonymous(AuthError::Store(e)))?
            .ok_or(AuthFailure::anonymous(AuthError::InvalidKey))?;
        // From here the key is known: a refusal is attributed to its owner,
        // so their organisation's admins see attempts with revoked keys.
        let refused = |error| AuthFailure {
            error,
            owner: Some(KeyOwner {
                org_id: key.org_id.clone(),
                user_id: key.user_id.clone(),
                key_prefix: key.prefix.clone(),
            }),
        };
        if !key.is_usable_at(now_millis()) {
            return Err(refused(AuthError::InvalidKey));
        }
        let user = self
            .user(&key.user_id)
            .await
            .map_err(|e| refused(AuthError::Store(e)))?
            .ok_or_else(|| refused(AuthError::InvalidKey))?;
        if user.org_id != key.org_id {
            return Err(refused(AuthError::InvalidKey));
        }
        if user.disabled {
            return Err(refused(AuthError::UserDisabled));
        }
        let owner = self.is_instance_owner(&user.id).await.map_err(refused)?;
        Ok(Principal::new(
            user.org_id.clone(),
            user.id.clone(),
            user.role,
            Some((key.id.clone(), key.prefix.clone())),
            owner,
            key.requests_per_minute,
        ))
    }

    /// The principal of the local operator (the CLI): the instance owner,
    /// acting without a key. Only code running on the server's own machine
    /// with access to its database can obtain it.
    pub async fn operator(&self) -> Result<Principal, AuthError> {
        let owner_id = self
            .inner
            .store
            .instance_owner()
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::InvalidKey)?;
        let user = self
            .user(&owner_id)
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::InvalidKey)?;
        Ok(Principal::new(
            user.org_id.clone(),
            user.id.clone(),
            user.role,
            None,
            true,
            None,
        ))
    }

    /// The organisation, as cached.
    pub async fn org(&self, id: &str) -> Result<Option<Arc<Org>>, StoreError> {
        if let Some(org) = self.inner.orgs.get(id) {
            return Ok(Some(org));
        }
        let Some(org) = self.inner.store.get_org(id).await? else {
            return Ok(None);
        };
        let org = Arc::new(org);
        self.inner.orgs.insert(id.to_owned(), org.clone());
        Ok(Some(org))
    }

    /// Forgets a key, so its revocation or change is seen on the next call.
    pub fn invalidate_key(&self, key_hash: &str) {
        self.inner.keys.remove(key_hash);
    }

    /// Forgets a user, so a new role or disabled flag applies to all of
    /// their keys on the next call.
    pub fn invalidate_user(&self, user_id: &str) {
        self.inner.users.remove(user_id);
    }

    /// Forgets an organisation, so changed limits apply on the next call.
    pub fn invalidate_org(&self, org_id: &str) {
        self.inner.orgs.remove(org_id);
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
        if let Some(cached) = self.inner.keys.get(hash) {
            return Ok(cached);
        }
        let key = self
            .inner
            .store
            .find_api_key_by_hash(hash)
            .await?
            .map(Arc::new);
        self.inner.keys.insert(hash.to_owned(), key.clone());
        Ok(key)
    }

    async fn user(&self, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        if let Some(user) = self.inner.users.get(id) {
            return Ok(Some(user));
        }
        let Some(user) = self.inner.store.get_user(id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.inner.users.insert(id.to_owned(), user.clone());
        Ok(Some(user))
    }

    async fn is_instance_owner(&self, user_id: &str) -> Result<bool, AuthError> {
        if let Some(owner) = self
            .inner
            .owner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
        {
            return Ok(owner == user_id);
        }
        let owner = self
            .inner
            .store
            .instance_owner()
            .await
            .map_err(AuthError::Store)?;
        let is_owner = owner.as_deref() == Some(user_id);
        if owner.is_some() {
            *self.inner.owner.write().unwrap_or_else(|e| e.into_inner()) = owner;
        }
        Ok(is_owner)
    }
}
