//! The audit log table: appending with the hash chain, filtered listing,
//! and walking the whole chain to verify it.

use crate::audit::{ChainReport, ChainVerifier, link};
use crate::error::Result;
use crate::sql::SqlBuilder;
use crate::{Backend, CallBatch, Store, Tx};
use hearth_types::{AuditEntry, AuditFilter};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The PostgreSQL advisory lock that serialises appenders across replicas
/// (ASCII "HEARTHAU"). Held until the appending transaction ends, so the
/// tip read under it stays the tip until the new records are committed.
const AUDIT_LOCK_KEY: i64 = 0x4845_4152_5448_4155;

/// The audit_log columns, in the order every query here lists them.
macro_rules! audit_columns {
    () => {
        "seq, id, created_at, request_id, org_id, user_id, key_prefix, method, path, status, \
         latency_us, client_addr, user_agent, action, resource_id, model, input_tokens, \
         output_tokens, prev_hash, hash"
    };
}
pub(crate) use audit_columns;

/// The newest record of the chain: what the next record links to.
pub(crate) const AUDIT_TIP: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

/// Bound values per audit row in the multi-row INSERT.
const COLUMNS_PER_ROW: usize = 20;

/// Rows per INSERT statement: 500 × 20 = 10,000 bind parameters, well
/// under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 500;

/// Rows per page when walking the chain.
const VERIFY_PAGE: i64 = 1000;

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        request_id: row.try_get("request_id")?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        key_prefix: row.try_get("key_prefix")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: row.try_get("status")?,
        latency_us: row.try_get("latency_us")?,
        client_addr: row.try_get("client_addr")?,
        user_agent: row.try_get("user_agent")?,
        action: row.try_get("action")?,
        resource_id: row.try_get("resource_id")?,
        model: row.try_get("model")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Group commit: appends all `entries` in one transaction, assigning
    /// `seq`, `prev_hash` and `hash`, and returns them with those filled.
    pub async fn append_audit(&self, entries: Vec<AuditEntry>) -> Result<Vec<AuditEntry>> {
        if entries.is_empty() {
            return Ok(entries);
        }
        let mut tx = self.begin().await?;
        let entries = tx.append_audit(entries).await?;
        tx.commit().await?;
        Ok(entries)
    }

    /// Everything a batch of finished calls leaves behind, in one
    /// transaction: their audit records (chained), their token usage, and
    /// their keys' last-use times. Fills each entry's `seq`, `prev_hash` and
    /// `hash`; on failure the batch is left whole, to be tried again.
    pub async fn commit_calls(&self, batch: &mut CallBatch) -> Result<()> {
        if let Some(writer) = &self.calls {
            return writer.commit(batch).await;
        }
        let mut tx = self.begin().await?;
        // Row locks first, the audit chain's advisory lock last: every
        // state change (e.g. revoking a key) locks its row and then appends
        // its audit record, so taking them in the same order here means the
        // two can only wait for each other, never deadlock.
        tx.touch_api_keys(&batch.key_uses).await?;
        tx.record_usage(&batch.usage).await?;
        tx.link_and_insert_audit(&mut batch.entries).await?;
        tx.commit().await
    }

    /// Records matching every set field of `filter`, newest first.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut q = SqlBuilder::new(
            self.backend,
            concat!("SELECT ", audit_columns!(), " FROM audit_log"),
        );
        // Each condition is preceded by WHERE (the first) or AND.
        let mut conditions = 0;
        let mut and = |q: &mut SqlBuilder<'_>, fragment: &'static str| {
            q.push(if conditions == 0 { " WHERE " } else { " AND " });
            q.push(fragment);
            conditions += 1;
        };
        if let Some(org_id) = &filter.org_id {
            and(&mut q, "org_id = ");
            q.push_bind(org_id.as_str());
        }
        if let Some(user_id) = &filter.user_id {
            and(&mut q, "user_id = ");
            q.push_bind(user_id.as_str());
        }
        if let Some(prefix) = &filter.key_prefix {
            and(&mut q, "key_prefix = ");
            q.push_bind(prefix.as_str());
        }
        if let Some(method) = &filter.method {
            and(&mut q, "method = ");
            q.push_bind(method.as_str());
        }
        if let Some(prefix) = &filter.path_prefix {
            // A substring comparison rather than LIKE: LIKE needs its
            // wildcards escaped and is case-insensitive on SQLite but not on
            // PostgreSQL. Both count characters, not bytes.
            let len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
            and(&mut q, "substr(path, 1, CAST(");
            q.push_bind(len)
                .push(" AS INTEGER)) = ")
                .push_bind(prefix.as_str());
        }
        if let Some(status) = filter.status {
            and(&mut q, "status = ");
            q.push_bind(status);
        }
        if let Some(action) = &filter.action {
            and(&mut q, "action = ");
            q.push_bind(action.as_str());
        }
        if let Some(since) = filter.since {
            and(&mut q, "created_at >= ");
            q.push_bind(since);
        }
        if let Some(until) = filter.until {
            and(&mut q, "created_at < ");
            q.push_bind(until);
        }
        if let Some(before) = filter.before_seq {
            and(&mut q, "seq < ");
            q.push_bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(filter.limit.max(0));
        let (text, args) = q.finish()?;
        sqlx::query_with(&text, args)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// The `seq` of the record with this id, for turning an id cursor into
    /// `AuditFilter::before_seq`.
    pub async fn audit_seq_of(&self, id: &str, org_id: Option<&str>) -> Result<Option<i64>> {
        let row = match org_id {
            // A cursor from another organisation must look like no cursor
            // at all, or it would reveal that the id exists.
            Some(org) => {
                sqlx::query("SELECT seq FROM audit_log WHERE id = $1 AND org_id = $2")
                    .bind(id)
                    .bind(org)
                    .fetch_optional(&self.read)
                    .await?
            }
            None => {
                sqlx::query("SELECT seq FROM audit_log WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?
            }
        };
        Ok(row.map(|r| r.try_get("seq")).transpose()?)
    }

    /// Walks the whole chain in seq order, recomputing every hash, and
    /// reports the first record that does not check out.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let mut verifier = ChainVerifier::default();
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(after)
            .bind(VERIFY_PAGE)
            .fetch_all(&self.read)
            .await?;
            let page_len = rows.len();
            for row in &rows {
                let entry = entry_from_row(row)?;
                after = entry.seq;
                if !verifier.check(&entry) {
                    return Ok(verifier.report());
                }
            }
            if i64::try_from(page_len).unwrap_or(i64::MAX) < VERIFY_PAGE {
                return Ok(verifier.report());
            }
        }
    }
}

impl Tx {
    /// Appends `entries` inside this transaction, continuing the chain from
    /// its current tip; returns them with `seq`, `prev_hash` and `hash`
    /// filled. Nothing is visible (or linked to) until `commit`.
    ///
    /// On PostgreSQL this takes an advisory lock held until the transaction
    /// ends, so keep the rest of the transaction short.
    pub async fn append_audit(&mut self, mut entries: Vec<AuditEntry>) -> Result<Vec<AuditEntry>> {
        self.link_and_insert_audit(&mut entries).await?;
        Ok(entries)
    }

    /// [`Tx::append_audit`] in place: sets each entry's `seq`, `prev_hash`
    /// and `hash` (again, if an earlier try failed) and inserts them.
    pub async fn link_and_insert_audit(&mut self, entries: &mut [AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Postgres {
            // The lock function returns `void`, which the Any driver cannot
            // decode; the cast gives it a text column instead.
            sqlx::query("SELECT CAST(pg_advisory_xact_lock($1) AS TEXT)")
                .bind(AUDIT_LOCK_KEY)
                .execute(&mut *self.tx)
                .await?;
        }
        // On SQLite the transaction began IMMEDIATE, so it already holds the
        // database's write lock and the tip cannot move under us.
        let tip = sqlx::query(AUDIT_TIP)
            .fetch_optional(&mut *self.tx)
            .await?
            .map(|row| -> Result<(i64, String)> { Ok((row.try_get("seq")?, row.try_get("hash")?)) })
            .transpose()?;
        link(entries, tip);

        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut q = SqlBuilder::new(
                self.backend,
                concat!("INSERT INTO audit_log (", audit_columns!(), ") VALUES "),
            );
            for (i, e) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                push_row(&mut q, e);
                q.push(")");
            }
            debug_assert_eq!(q.binds(), chunk.len() * COLUMNS_PER_ROW);
            let (text, args) = q.finish()?;
            sqlx::query_with(&text, args).execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}

/// Binds one record's columns, in the order of the INSERT's column list.
fn push_row<'a>(q: &mut SqlBuilder<'a>, e: &'a AuditEntry) {
    q.push_bind(e.seq)
        .push(", ")
        .push_bind(e.id.as_str())
        .push(", ")
        .push_bind(e.created_at)
        .push(", ")
        .push_bind(e.request_id.as_str())
        .push(", ")
        .push_bind(e.org_id.as_deref())
        .push(", ")
        .push_bind(e.user_id.as_deref())
        .push(", ")
        .push_bind(e.key_prefix.as_deref())
        .push(", ")
        .push_bind(e.method.as_str())
        .push(", ")
        .push_bind(e.path.as_str())
        .push(", ")
        .push_bind(e.status)
        .push(", ")
        .push_bind(e.latency_us)
        .push(", ")
        .push_bind(e.client_addr.as_deref())
        .push(", ")
        .push_bind(e.user_agent.as_deref())
        .push(", ")
        .push_bind(e.action.as_deref())
        .push(", ")
        .push_bind(e.resource_id.as_deref())
        .push(", ")
        .push_bind(e.model.as_deref())
        .push(", ")
        .push_bind(e.input_tokens)
        .push(", ")
        .push_bind(e.output_tokens)
        .push(", ")
        .push_bind(e.prev_hash.as_str())
        .push(", ")
        .push_bind(e.hash.as_str());
}
