//! Users: people and service accounts inside one organisation.

use crate::error::{Result, StoreError, classify};
use crate::sql::{SqlBuilder, get_bool};
use crate::{Store, Tx};
use hearth_types::{Role, User};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Unique constraints of `users` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("email", "email")];

fn user_from_row(row: &AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    let role = role
        .parse::<Role>()
        .map_err(|e| StoreError::Corrupt(format!("users.role: {e}")))?;
    Ok(User {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        email: row.try_get("email")?,
        role,
        disabled: get_bool(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The user with this id, in any organisation: callers that act for a
    /// principal must check `org_id` themselves.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, org_id, email, role, disabled, created_at, updated_at \
             FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    /// Exact match on the stored (lower-cased by the engine) email.
    pub async fn find_user_by_email(&self, org_id: &str, email: &str) -> Result<Option<User>> {
        sqlx::query(
            "SELECT id, org_id, email, role, disabled, created_at, updated_at \
             FROM users WHERE org_id = $1 AND email = $2",
        )
        .bind(org_id)
        .bind(email)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    /// Users of one org ordered by id ascending, ids > `after` if given, at
    /// most `limit`.
    pub async fn list_users(
        &self,
        org_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>> {
        let mut q = SqlBuilder::new(
            self.backend,
            "SELECT id, org_id, email, role, disabled, created_at, updated_at \
             FROM users WHERE org_id = ",
        );
        q.push_bind(org_id);
        if let Some(after) = after {
            q.push(" AND id > ").push_bind(after);
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit.max(0));
        let (text, args) = q.finish()?;
        sqlx::query_with(&text, args)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }
}

impl Tx {
    pub async fn insert_user(&mut self, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, org_id, email, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.org_id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(user.disabled)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }

    /// Updates role, disabled and updated_at of the user with `user.id`.
    /// Org and email never change.
    pub async fn update_user(&mut self, user: &User) -> Result<()> {
        sqlx::query("UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
            .bind(user.role.as_str())
            .bind(user.disabled)
            .bind(user.updated_at)
            .bind(&user.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
