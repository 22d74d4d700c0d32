//! Stored responses of the Responses API: the whole Response object as
//! JSON, plus the ids the store finds and scopes it by.

use crate::error::{Result, classify};
use crate::sql::decode_json;
use crate::{Store, Tx};
use hearth_types::conversation::StoredResponse;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Unique constraints of `responses` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("responses", "response")];

fn response_from_row(row: &AnyRow) -> Result<StoredResponse> {
    let body: String = row.try_get("body")?;
    Ok(StoredResponse {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        conversation_id: row.try_get("conversation_id")?,
        previous_response_id: row.try_get("previous_response_id")?,
        created_at: row.try_get("created_at")?,
        body: decode_json(&body, "responses.body")?,
    })
}

impl Store {
    /// The response with this id in this org; another org's is `None`.
    pub async fn get_response(&self, org_id: &str, id: &str) -> Result<Option<StoredResponse>> {
        sqlx::query(
            "SELECT id, org_id, user_id, conversation_id, previous_response_id, created_at, body \
             FROM responses WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(response_from_row)
        .transpose()
    }
}

impl Tx {
    pub async fn insert_response(&mut self, r: &StoredResponse) -> Result<()> {
        sqlx::query(
            "INSERT INTO responses (id, org_id, user_id, conversation_id, previous_response_id, \
             created_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.org_id)
        .bind(&r.user_id)
        .bind(r.conversation_id.as_deref())
        .bind(r.previous_response_id.as_deref())
        .bind(r.created_at)
        .bind(r.body.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }

    /// Replaces the body and conversation of the response `r.id` of
    /// `r.org_id`; its owner, predecessor and creation time never change.
    /// `false` if the org has no such response.
    pub async fn update_response(&mut self, r: &StoredResponse) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE responses SET body = $1, conversation_id = $2 WHERE org_id = $3 AND id = $4",
        )
        .bind(r.body.to_string())
        .bind(r.conversation_id.as_deref())
        .bind(&r.org_id)
        .bind(&r.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a response and the items that belong to it but to no
    /// conversation. Items in a conversation stay: they are the
    /// conversation's history. `false` if the org has no such response.
    pub async fn delete_response(&mut self, org_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM responses WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM conversation_items \
             WHERE org_id = $1 AND response_id = $2 AND conversation_id IS NULL",
        )
        .bind(org_id)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(true)
    }
}
