//! The SQLite path of [`Store::commit_calls`](crate::Store::commit_calls):
//! the audit writer's group commits go through a connection of their own,
//! driven synchronously on a blocking thread.
//!
//! Through sqlx, every statement of a group is a round trip to the
//! connection's worker thread, every bound value is copied twice (Any
//! arguments, then SQLite's), and a group's multi-row INSERT is new SQL
//! text for every group size, parsed and planned afresh. Here a group is
//! one hop to a blocking thread, and every row reuses one cached prepared
//! statement.
//!
//! The transaction has the same shape as the sqlx path (`BEGIN IMMEDIATE`,
//! key touches, usage, then the chain), so the two writers interleave
//! safely: SQLite's write lock serialises them, and the chain's tip is read
//! under it.

use crate::CallBatch;
use crate::api_keys::TOUCH_API_KEY;
use crate::audit::link;
use crate::audit_log::{AUDIT_TIP, audit_columns};
use crate::connect::SQLITE_PRAGMAS;
use crate::error::{Result, StoreError};
use crate::usage::usage_columns;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit_log (",
    audit_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20)"
);

const INSERT_USAGE: &str = concat!(
    "INSERT INTO usage_records (",
    usage_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
);

/// The connection the audit writer commits through; `None` once the store
/// is closed.
pub(crate) struct CallWriter {
    conn: Arc<Mutex<Option<Connection>>>,
}

impl CallWriter {
    /// Opens the database file at `path`, which the store has already
    /// created and migrated.
    pub(crate) fn open(path: &Path) -> Result<CallWriter> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_error)?;
        for pragma in SQLITE_PRAGMAS {
            conn.execute_batch(pragma).map_err(store_error)?;
        }
        Ok(CallWriter {
            conn: Arc::new(Mutex::new(Some(conn))),
        })
    }

    /// Commits `batch` in one transaction on a blocking thread. The batch
    /// travels there and back, so a failed commit leaves it whole for the
    /// next try.
    pub(crate) async fn commit(&self, batch: &mut CallBatch) -> Result<()> {
        let conn = Arc::clone(&self.conn);
        let mut owned = std::mem::take(batch);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock left no transaction open (the
            // guard's drop rolled it back), so the connection is still good.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let result = match conn.as_mut() {
                Some(conn) => write(conn, &mut owned).map_err(store_error),
                None => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
            };
            (owned, result)
        })
        .await;
        match joined {
            Ok((owned, result)) => {
                *batch = owned;
                result
            }
            Err(e) => Err(StoreError::Database(sqlx::Error::Io(
                std::io::Error::other(format!("the audit commit thread failed: {e}")),
            ))),
        }
    }

    /// Closes the connection; later commits fail as on a closed pool.
    pub(crate) fn close(&self) {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(conn);
    }
}

fn write(conn: &mut Connection, batch: &mut CallBatch) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        // Same order as the sqlx path; see `Tx::touch_api_keys`.
        let mut keys: Vec<&(String, i64)> = batch.key_uses.iter().collect();
        keys.sort();
        let mut touch = tx.prepare_cached(TOUCH_API_KEY)?;
        for (id, at) in keys {
            touch.execute(params![at, id])?;
        }

        let mut usage = tx.prepare_cached(INSERT_USAGE)?;
        for r in &batch.usage {
            usage.execute(params![
                r.id,
                r.created_at,
                r.request_id,
                r.org_id,
                r.user_id,
                r.key_id,
                r.model,
                r.input_tokens,
                r.output_tokens,
                r.estimated,
            ])?;
        }

        let tip: Option<(i64, String)> = tx
            .prepare_cached(AUDIT_TIP)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        link(&mut batch.entries, tip);
        let mut insert = tx.prepare_cached(INSERT_AUDIT)?;
        for e in &batch.entries {
            insert.execute(params![
                e.seq,
                e.id,
                e.created_at,
                e.request_id,
                e.org_id,
                e.user_id,
                e.key_prefix,
                e.method,
                e.path,
                e.status,
                e.latency_us,
                e.client_addr,
                e.user_agent,
                e.action,
                e.resource_id,
                e.model,
                e.input_tokens,
                e.output_tokens,
                e.prev_hash,
                e.hash,
            ])?;
        }
    }
    tx.commit()
}

/// Busy and locked are passing (another writer holds the database); the
/// rest is a database error.
fn store_error(err: rusqlite::Error) -> StoreError {
    let busy = matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    );
    let err = sqlx::Error::Io(std::io::Error::other(err));
    if busy {
        StoreError::Unavailable(err)
    } else {
        StoreError::Database(err)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDatabase;
    use crate::{Backend, Store, StoreOptions};

    #[tokio::test]
    async fn only_sqlite_files_get_their_own_call_connection() {
        let db = TestDatabase::new(Backend::Sqlite).await.unwrap().unwrap();
        let file = Store::connect(&StoreOptions::new(db.url.clone()))
            .await
            .unwrap();
        assert!(file.calls.is_some(), "call groups would go through sqlx");
        let memory = Store::connect(&StoreOptions::new("sqlite::memory:"))
            .await
            .unwrap();
        assert!(memory.calls.is_none());
    }
}
