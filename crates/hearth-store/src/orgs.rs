//! Organisations: the tenants every other record belongs to.

use crate::error::{Result, classify};
use crate::{Store, Tx};
use hearth_types::Org;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Unique constraints of `orgs` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("name", "organization name")];

fn org_from_row(row: &AnyRow) -> Result<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        requests_per_minute: row.try_get("requests_per_minute")?,
        tokens_per_minute: row.try_get("tokens_per_minute")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn get_org(&self, id: &str) -> Result<Option<Org>> {
        sqlx::query(
            "SELECT id, name, requests_per_minute, tokens_per_minute, created_at \
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
            "SELECT id, name, requests_per_minute, tokens_per_minute, created_at \
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
            "SELECT id, name, requests_per_minute, tokens_per_minute, created_at \
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
            "INSERT INTO orgs (id, name, requests_per_minute, tokens_per_minute, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.requests_per_minute)
        .bind(org.tokens_per_minute)
        .bind(org.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }

    /// Updates the name and limits of the organisation with `org.id`; its
    /// creation time never changes. Updating a missing org does nothing.
    pub async fn update_org(&mut self, org: &Org) -> Result<()> {
        sqlx::query(
            "UPDATE orgs SET name = $1, requests_per_minute = $2, tokens_per_minute = $3 \
             WHERE id = $4",
        )
        .bind(&org.name)
        .bind(org.requests_per_minute)
        .bind(org.tokens_per_minute)
        .bind(&org.id)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }
}
