//! API keys: stored as the SHA-256 of the secret, looked up by that hash.

use crate::error::Result;
use crate::sql::SqlBuilder;
use crate::{Store, Tx};
use hearth_types::ApiKey;
use sqlx::Row;
use sqlx::any::AnyRow;

fn key_from_row(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
        requests_per_minute: row.try_get("requests_per_minute")?,
    })
}

impl Store {
    /// The key with this id, in any organisation: callers that act for a
    /// principal must check `org_id` themselves.
    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        sqlx::query(
            "SELECT id, org_id, user_id, name, prefix, key_hash, created_at, expires_at, \
             revoked_at, last_used_at, requests_per_minute FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    /// The key whose secret hashes to `key_hash`, revoked or not: the caller
    /// decides usability (`ApiKey::is_usable_at`).
    pub async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        sqlx::query(
            "SELECT id, org_id, user_id, name, prefix, key_hash, created_at, expires_at, \
             revoked_at, last_used_at, requests_per_minute FROM api_keys WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    /// Keys of one org (optionally one user), id ascending, ids > `after`,
    /// at most `limit`.
    pub async fn list_api_keys(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApiKey>> {
        let mut q = SqlBuilder::new(
            self.backend,
            "SELECT id, org_id, user_id, name, prefix, key_hash, created_at, expires_at, \
             revoked_at, last_used_at, requests_per_minute FROM api_keys WHERE org_id = ",
        );
        q.push_bind(org_id);
        if let Some(user_id) = user_id {
            q.push(" AND user_id = ").push_bind(user_id);
        }
        if let Some(after) = after {
            q.push(" AND id > ").push_bind(after);
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit.max(0));
        let (text, args) = q.finish()?;
        sqlx::query_with(&text, args)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    /// Records key use: sets `last_used_at = max(last_used_at, at)` for
    /// each `(key_id, at)`, all in one transaction. Batched by the caller
    /// so the request path does no database write of its own.
    pub async fn touch_api_keys(&self, uses: &[(String, i64)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        tx.touch_api_keys(uses).await?;
        tx.commit().await
    }
}

/// Moves a key's last-use time forward (never back): `$1` the time, `$2`
/// the key id.
pub(crate) const TOUCH_API_KEY: &str = "UPDATE api_keys SET last_used_at = $1 \
     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)";

impl Tx {
    /// [`Store::touch_api_keys`] inside this transaction.
    pub async fn touch_api_keys(&mut self, uses: &[(String, i64)]) -> Result<()> {
        // Updating in id order means two concurrent batches on PostgreSQL
        // lock their rows in the same order and cannot deadlock.
        let mut sorted: Vec<&(String, i64)> = uses.iter().collect();
        sorted.sort();
        for (id, at) in sorted {
            sqlx::query(TOUCH_API_KEY)
                .bind(*at)
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    pub async fn insert_api_key(&mut self, key: &ApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, user_id, name, prefix, key_hash, created_at, \
             expires_at, revoked_at, last_used_at, requests_per_minute) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&key.id)
        .bind(&key.org_id)
        .bind(&key.user_id)
        .bind(key.name.as_deref())
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .bind(key.last_used_at)
        .bind(key.requests_per_minute)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Updates name, revoked_at, expires_at and requests_per_minute of the
    /// key with `key.id`. `last_used_at` is left alone: it belongs to
    /// `Store::touch_api_keys`, which may have moved it since `key` was read.
    pub async fn update_api_key(&mut self, key: &ApiKey) -> Result<()> {
        sqlx::query(
            "UPDATE api_keys SET name = $1, revoked_at = $2, expires_at = $3, \
             requests_per_minute = $4 WHERE id = $5",
        )
        .bind(key.name.as_deref())
        .bind(key.revoked_at)
        .bind(key.expires_at)
        .bind(key.requests_per_minute)
        .bind(&key.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
