//! Instance-wide settings: who the owner is and which organisation is the
//! default. Written once at bootstrap.

use crate::error::Result;
use crate::{Store, Tx};
use sqlx::Row;

const OWNER_USER_ID: &str = "owner_user_id";
const DEFAULT_ORG_ID: &str = "default_org_id";

impl Store {
    /// The instance owner's user id; `None` before bootstrap.
    pub async fn instance_owner(&self) -> Result<Option<String>> {
        self.instance_value(OWNER_USER_ID).await
    }

    /// The default organisation's id; `None` before bootstrap.
    pub async fn default_org(&self) -> Result<Option<String>> {
        self.instance_value(DEFAULT_ORG_ID).await
    }

    async fn instance_value(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM instance WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }
}

impl Tx {
    /// Records the instance owner and default organisation, replacing any
    /// earlier values.
    pub async fn set_instance(&mut self, owner_user_id: &str, default_org_id: &str) -> Result<()> {
        for (key, value) in [
            (OWNER_USER_ID, owner_user_id),
            (DEFAULT_ORG_ID, default_org_id),
        ] {
            sqlx::query(
                "INSERT INTO instance (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
