//! Conversation items: the messages, function calls and tool calls that
//! responses take and produce, numbered by `seq` within their conversation
//! (or within their response when they have no conversation).
//!
//! `seq` is the one value here the store computes. Appenders number after
//! the current maximum of the group, so two of them must not read that
//! maximum at once: on SQLite the single writer connection and the
//! IMMEDIATE transaction serialise them; on PostgreSQL `append_items`
//! locks the conversation row, or an advisory lock per response for items
//! outside any conversation.

use crate::error::{Result, StoreError, classify};
use crate::sql::{SqlBuilder, decode_json};
use crate::{Backend, Store, Tx};
use hearth_types::conversation::{ItemKind, NewItem, Order, StoredItem};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, BTreeSet};

/// Unique constraints of `conversation_items` that a caller can act on.
const CONFLICTS: &[(&str, &str)] = &[("conversation_items", "item")];

/// Bound values per item row in the multi-row INSERT.
const COLUMNS_PER_ROW: usize = 8;

/// Rows per INSERT: 500 × 8 binds stays far under every backend's limit.
const ROWS_PER_INSERT: usize = 500;

/// `SELECT <item columns> FROM conversation_items ` followed by `$rest`.
macro_rules! select_items {
    ($rest:literal) => {
        concat!(
            "SELECT id, org_id, conversation_id, response_id, kind, seq, created_at, body \
             FROM conversation_items ",
            $rest
        )
    };
}

fn item_from_row(row: &AnyRow) -> Result<StoredItem> {
    let kind: String = row.try_get("kind")?;
    let kind = ItemKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("conversation_items.kind: '{kind}'")))?;
    let body: String = row.try_get("body")?;
    Ok(StoredItem {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        conversation_id: row.try_get("conversation_id")?,
        response_id: row.try_get("response_id")?,
        kind,
        seq: row.try_get("seq")?,
        created_at: row.try_get("created_at")?,
        body: decode_json(&body, "conversation_items.body")?,
    })
}

/// Which items a paginated listing walks.
#[derive(Clone, Copy)]
enum Listing<'a> {
    /// Every item of a conversation.
    Conversation(&'a str),
    /// The input items of a response.
    ResponseInputs(&'a str),
}

/// The items a `seq` counts within.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SeqGroup<'a> {
    Conversation(&'a str),
    /// Items outside any conversation, per response (or with none at all).
    Response(Option<&'a str>),
}

impl<'a> SeqGroup<'a> {
    /// The group `item` joins when appended to `conversation_id`.
    fn of(conversation_id: Option<&'a str>, item: &'a NewItem) -> Self {
        match conversation_id {
            Some(id) => SeqGroup::Conversation(id),
            None => SeqGroup::Response(item.response_id.as_deref()),
        }
    }
}

/// The PostgreSQL advisory lock key of a group of conversation-less items.
/// A collision with another key only serialises two appenders needlessly.
fn response_lock_key(org_id: &str, response_id: Option<&str>) -> i64 {
    let mut hash = Sha256::new();
    hash.update(b"hearth.conversation_items\0");
    hash.update(org_id.as_bytes());
    match response_id {
        Some(id) => {
            hash.update(b"\0r");
            hash.update(id.as_bytes());
        }
        None => hash.update(b"\0-"),
    }
    let digest = hash.finalize();
    let mut key = [0_u8; 8];
    key.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(key)
}

impl Store {
    /// Items of a conversation in seq order (`order`): only seq > after_seq
    /// (Asc) or seq < after_seq (Desc) when a cursor is given, at most
    /// `limit`.
    pub async fn list_conversation_items(
        &self,
        org_id: &str,
        conversation_id: &str,
        after_seq: Option<i64>,
        limit: i64,
        order: Order,
    ) -> Result<Vec<StoredItem>> {
        let listing = Listing::Conversation(conversation_id);
        self.list_items(org_id, listing, after_seq, limit, order)
            .await
    }

    /// Every item of a conversation, seq ascending: the history for the
    /// model. Callers bound it by the conversation's size.
    pub async fn conversation_history(
        &self,
        org_id: &str,
        conversation_id: &str,
    ) -> Result<Vec<StoredItem>> {
        sqlx::query(select_items!(
            "WHERE org_id = $1 AND conversation_id = $2 ORDER BY seq"
        ))
        .bind(org_id)
        .bind(conversation_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(item_from_row)
        .collect()
    }

    /// One item of a conversation; `None` if it belongs to another
    /// conversation or org.
    pub async fn get_conversation_item(
        &self,
        org_id: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> Result<Option<StoredItem>> {
        sqlx::query(select_items!(
            "WHERE org_id = $1 AND conversation_id = $2 AND id = $3"
        ))
        .bind(org_id)
        .bind(conversation_id)
        .bind(item_id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()
    }

    /// Any item of the org by id, wherever it belongs (for `item_reference`
    /// inputs).
    pub async fn get_item(&self, org_id: &str, item_id: &str) -> Result<Option<StoredItem>> {
        sqlx::query(select_items!("WHERE org_id = $1 AND id = $2"))
            .bind(org_id)
            .bind(item_id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(item_from_row)
            .transpose()
    }

    /// The input items of one response, paginated like
    /// [`Store::list_conversation_items`]; the cursor is the seq of an item
    /// of that response.
    pub async fn list_response_input_items(
        &self,
        org_id: &str,
        response_id: &str,
        after_seq: Option<i64>,
        limit: i64,
        order: Order,
    ) -> Result<Vec<StoredItem>> {
        let listing = Listing::ResponseInputs(response_id);
        self.list_items(org_id, listing, after_seq, limit, order)
            .await
    }

    /// All items of one response: its inputs, then its outputs, each seq
    /// ascending.
    pub async fn response_items(&self, org_id: &str, response_id: &str) -> Result<Vec<StoredItem>> {
        sqlx::query(select_items!(
            "WHERE org_id = $1 AND response_id = $2 \
             ORDER BY CASE kind WHEN 'input' THEN 0 ELSE 1 END, seq"
        ))
        .bind(org_id)
        .bind(response_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(item_from_row)
        .collect()
    }

    /// The seq of an item of the org, only if it belongs to the given
    /// conversation and/or response (each `None` is no constraint): turns an
    /// `after` item id into `after_seq`, and tells a cursor that belongs
    /// elsewhere (`None`).
    pub async fn item_seq(
        &self,
        org_id: &str,
        conversation_id: Option<&str>,
        response_id: Option<&str>,
        item_id: &str,
    ) -> Result<Option<i64>> {
        let mut q = SqlBuilder::new(
            self.backend,
            "SELECT seq FROM conversation_items WHERE org_id = ",
        );
        q.push_bind(org_id).push(" AND id = ").push_bind(item_id);
        if let Some(conversation_id) = conversation_id {
            q.push(" AND conversation_id = ").push_bind(conversation_id);
        }
        if let Some(response_id) = response_id {
            q.push(" AND response_id = ").push_bind(response_id);
        }
        let (text, args) = q.finish()?;
        let row = sqlx::query_with(&text, args)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get("seq")).transpose()?)
    }

    async fn list_items(
        &self,
        org_id: &str,
        listing: Listing<'_>,
        after_seq: Option<i64>,
        limit: i64,
        order: Order,
    ) -> Result<Vec<StoredItem>> {
        let mut q = SqlBuilder::new(self.backend, select_items!("WHERE org_id = "));
        q.push_bind(org_id);
        match listing {
            Listing::Conversation(id) => q.push(" AND conversation_id = ").push_bind(id),
            Listing::ResponseInputs(id) => q
                .push(" AND response_id = ")
                .push_bind(id)
                .push(" AND kind = ")
                .push_bind(ItemKind::Input.as_str()),
        };
        if let Some(after) = after_seq {
            q.push(match order {
                Order::Asc => " AND seq > ",
                Order::Desc => " AND seq < ",
            })
            .push_bind(after);
        }
        q.push(match order {
            Order::Asc => " ORDER BY seq ASC LIMIT ",
            Order::Desc => " ORDER BY seq DESC LIMIT ",
        })
        .push_bind(limit.max(0));
        let (text, args) = q.finish()?;
        sqlx::query_with(&text, args)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(item_from_row)
            .collect()
    }
}

impl Tx {
    /// Appends `items` in order and returns them as stored. With a
    /// conversation, they are numbered after its last item (seq = max + 1,
    /// max + 2, …); without one, each after the last conversation-less item
    /// of its `response_id`.
    ///
    /// Safe against concurrent appenders to the same conversation or
    /// response: see the module docs. On PostgreSQL the lock is held until
    /// the transaction ends, so keep the rest of it short.
    ///
    /// Fails with `StoreError::NotFound("conversation")` if the org has no
    /// such conversation (say, it was deleted meanwhile).
    pub async fn append_items(
        &mut self,
        org_id: &str,
        conversation_id: Option<&str>,
        items: &[NewItem],
    ) -> Result<Vec<StoredItem>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // Locked and read in a fixed (sorted) order, so two appenders that
        // share several responses cannot deadlock.
        let groups: BTreeSet<SeqGroup<'_>> = items
            .iter()
            .map(|item| SeqGroup::of(conversation_id, item))
            .collect();
        let mut last = BTreeMap::new();
        for group in groups {
            self.lock_group(org_id, group).await?;
            last.insert(group, self.last_seq(org_id, group).await?);
        }

        let mut stored = Vec::with_capacity(items.len());
        for item in items {
            let seq = last.entry(SeqGroup::of(conversation_id, item)).or_insert(0);
            *seq += 1;
            stored.push(StoredItem {
                id: item.id.clone(),
                org_id: org_id.to_owned(),
                conversation_id: conversation_id.map(str::to_owned),
                response_id: item.response_id.clone(),
                kind: item.kind,
                seq: *seq,
                created_at: item.created_at,
                body: item.body.clone(),
            });
        }

        for chunk in stored.chunks(ROWS_PER_INSERT) {
            let mut q = SqlBuilder::new(
                self.backend,
                "INSERT INTO conversation_items (id, org_id, conversation_id, response_id, kind, \
                 seq, created_at, body) VALUES ",
            );
            for (i, item) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.push_bind(item.id.as_str()).push(", ");
                q.push_bind(item.org_id.as_str()).push(", ");
                q.push_bind(item.conversation_id.as_deref()).push(", ");
                q.push_bind(item.response_id.as_deref()).push(", ");
                q.push_bind(item.kind.as_str()).push(", ");
                q.push_bind(item.seq).push(", ");
                q.push_bind(item.created_at).push(", ");
                q.push_bind(item.body.to_string());
                q.push(")");
            }
            debug_assert_eq!(q.binds(), chunk.len() * COLUMNS_PER_ROW);
            let (text, args) = q.finish()?;
            sqlx::query_with(&text, args)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| classify(e, CONFLICTS))?;
        }
        Ok(stored)
    }

    /// Takes the lock that serialises appenders to `group` until the
    /// transaction ends, and checks that a conversation exists in the org.
    async fn lock_group(&mut self, org_id: &str, group: SeqGroup<'_>) -> Result<()> {
        match group {
            SeqGroup::Conversation(id) => {
                // SQLite has no FOR UPDATE, and needs none: the IMMEDIATE
                // transaction already holds the database's only write lock.
                let sql = match self.backend {
                    Backend::Postgres => {
                        "SELECT id FROM conversations WHERE org_id = $1 AND id = $2 FOR UPDATE"
                    }
                    Backend::Sqlite => "SELECT id FROM conversations WHERE org_id = $1 AND id = $2",
                };
                let found = sqlx::query(sql)
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound("conversation"));
                }
            }
            SeqGroup::Response(response_id) => {
                if self.backend == Backend::Postgres {
                    // The lock function returns `void`, which the Any driver
                    // cannot decode; the cast makes it a text column.
                    sqlx::query("SELECT CAST(pg_advisory_xact_lock($1) AS TEXT)")
                        .bind(response_lock_key(org_id, response_id))
                        .execute(&mut *self.tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The highest seq in `group`, 0 if it has no item yet.
    async fn last_seq(&mut self, org_id: &str, group: SeqGroup<'_>) -> Result<i64> {
        let mut q = SqlBuilder::new(
            self.backend,
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM conversation_items WHERE org_id = ",
        );
        q.push_bind(org_id);
        match group {
            SeqGroup::Conversation(id) => {
                q.push(" AND conversation_id = ").push_bind(id);
            }
            SeqGroup::Response(Some(id)) => {
                q.push(" AND conversation_id IS NULL AND response_id = ")
                    .push_bind(id);
            }
            SeqGroup::Response(None) => {
                q.push(" AND conversation_id IS NULL AND response_id IS NULL");
            }
        }
        let (text, args) = q.finish()?;
        let row = sqlx::query_with(&text, args)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get("seq")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_tell_responses_and_orgs_apart() {
        let a = response_lock_key("org_a", Some("resp_1"));
        assert_eq!(a, response_lock_key("org_a", Some("resp_1")));
        assert_ne!(a, response_lock_key("org_b", Some("resp_1")));
        assert_ne!(a, response_lock_key("org_a", Some("resp_2")));
        assert_ne!(
            response_lock_key("org_a", None),
            response_lock_key("org_a", Some(""))
        );
    }
}
