//! Organisations: the tenants every other record belongs to.

use crate::error::{Result, StoreError, classify};
use crate::{Store, Tx};
use hearth_types::Org;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Unique constraints of `orgs` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("name", "organization name")];

/// The allow-list is stored as a JSON array of strings (NULL = every model).
fn encode_models(models: Option<&[String]>) -> Option<String> {
    models.map(|m| serde_json::Value::from(m.to_vec()).to_string())
}

fn decode_models(text: Option<String>) -> Result<Option<Vec<String>>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            StoreError::Corrupt(format!("orgs.allowed_models is not a JSON list: {e}"))
        })
    })
    .transpose()
}

fn org_from_row(row: &AnyRow) -> Result<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        requests_per_minute: row.try_get("requests_per_minute")?,
        tokens_per_minute: row.try_get("tokens_per_minute")?,
        allowed_models: decode_models(row.try_get("allowed_models")?)?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn get_org(&self, id: &str) -> Result<Option<Org>> {
        sqlx::query(
            "SELECT id, name, requests_per_minute, tokens_per_minute, allowed_models, created_at \
             FROM orgs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(org_from_row)
        .transpose()
    }

    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>> {
        sqlx::query(
            "SELECT id, name, requests_per_minute, tokens_per_minute, allowed_models, created_at \
             FROM orgs WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(org_from_row)
        .transpose()
    }

    /// Every organisation, by id ascending. Instances hold few, so there is
    /// no pagination.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        sqlx::query(
            "SELECT id, name, requests_per_minute, tokens_per_minute, allowed_models, created_at \
             FROM orgs ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(org_from_row)
        .collect()
    }
}

impl Tx {
    pub async fn insert_org(&mut self, org: &Org) -> Result<()> {
        sqlx::query(
            "INSERT INTO orgs (id, name, requests_per_minute, tokens_per_minute, allowed_models, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.requests_per_minute)
        .bind(org.tokens_per_minute)
        .bind(encode_models(org.allowed_models.as_deref()))
        .bind(org.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }

    /// Updates the name, limits and model allow-list of the organisation with `org.id`; its
    /// creation time never changes. Updating a missing org does nothing.
    pub async fn update_org(&mut self, org: &Org) -> Result<()> {
        sqlx::query(
            "UPDATE orgs SET name = $1, requests_per_minute = $2, tokens_per_minute = $3, \
             allowed_models = $4 WHERE id = $5",
        )
        .bind(&org.name)
        .bind(org.requests_per_minute)
        .bind(org.tokens_per_minute)
        .bind(encode_models(org.allowed_models.as_deref()))
        .bind(&org.id)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }
}
