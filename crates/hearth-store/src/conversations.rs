//! Conversations of the Responses API: the record that owns an ordered
//! history of items (see `items.rs`) and that responses may point at.

use crate::error::{Result, classify};
use crate::sql::decode_json;
use crate::{Store, Tx};
use hearth_types::conversation::Conversation;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Unique constraints of `conversations` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("conversations", "conversation")];

fn conversation_from_row(row: &AnyRow) -> Result<Conversation> {
    let metadata: String = row.try_get("metadata")?;
    Ok(Conversation {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        metadata: decode_json(&metadata, "conversations.metadata")?,
    })
}

fn encode_metadata(metadata: &Map<String, Value>) -> String {
    // A map of JSON values always serialises.
    Value::Object(metadata.clone()).to_string()
}

impl Store {
    /// The conversation with this id in this org; another org's is `None`.
    pub async fn get_conversation(&self, org_id: &str, id: &str) -> Result<Option<Conversation>> {
        sqlx::query(
            "SELECT id, org_id, user_id, created_at, metadata FROM conversations \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()
    }
}

impl Tx {
    pub async fn insert_conversation(&mut self, c: &Conversation) -> Result<()> {
        sqlx::query(
            "INSERT INTO conversations (id, org_id, user_id, created_at, metadata) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id)
        .bind(&c.org_id)
        .bind(&c.user_id)
        .bind(c.created_at)
        .bind(encode_metadata(&c.metadata))
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify(e, CONFLICTS))?;
        Ok(())
    }

    /// Replaces the metadata of a conversation of the org; `false` if there
    /// is none.
    pub async fn update_conversation_metadata(
        &mut self,
        org_id: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE conversations SET metadata = $1 WHERE org_id = $2 AND id = $3")
                .bind(encode_metadata(metadata))
                .bind(org_id)
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the conversation and its items; responses that pointed at it
    /// keep their rows with `conversation_id` set to NULL (their bodies are
    /// left as they were). `false` if the org has no such conversation.
    pub async fn delete_conversation(&mut self, org_id: &str, id: &str) -> Result<bool> {
        // The conversation row goes first: on PostgreSQL that waits for any
        // appender holding it (`append_items` locks it), and the item delete
        // that follows then sees what that appender committed, so no item
        // outlives its conversation.
        let done = sqlx::query("DELETE FROM conversations WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM conversation_items WHERE org_id = $1 AND conversation_id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "UPDATE responses SET conversation_id = NULL \
             WHERE org_id = $1 AND conversation_id = $2",
        )
        .bind(org_id)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(true)
    }
}
