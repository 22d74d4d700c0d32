//! Hearth's storage: organisations, users, API keys, the audit log, usage,
//! and the Responses API's conversations, responses and items, in SQLite
//! (one machine, the default) or PostgreSQL (replicas).
//!
//! One SQL text serves both backends through sqlx's Any driver. That fixes
//! a few rules every query here follows: `$N` placeholders, ids as TEXT,
//! timestamps as BIGINT Unix milliseconds, every integer BIGINT, booleans
//! INTEGER 0/1 on SQLite and BOOLEAN on PostgreSQL (see `sql.rs`).
//!
//! Architecture invariant: the store writes what it is given. It mints no
//! ids and reads no clock (the engine does both); all it computes is the
//! audit chain and the `seq` of conversation items, because only the writer
//! knows the tip it links to or appends after.
//!
//! Reads go through [`Store`] methods; writes through a [`Tx`] from
//! [`Store::begin`], so a state change and its audit record commit together.

mod api_keys;
pub mod audit;
mod audit_log;
mod call_writer;
mod connect;
mod conversations;
mod error;
mod instance;
mod items;
mod orgs;
mod responses;
mod sql;
#[doc(hidden)]
pub mod testing;
mod usage;
mod users;

pub use audit::ChainReport;
pub use error::{Result, StoreError};

use hearth_types::AuditEntry;
use hearth_types::usage::UsageRecord;
use sqlx::{Any, AnyPool};
use std::fmt;
use std::sync::Arc;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to reach the database.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db`, `sqlite::memory:`, or
    /// `postgres://user@host/db`. May carry a password, so it is redacted
    /// from `Debug`.
    pub url: String,
    /// Size of the read pool (of the only pool on PostgreSQL); 0 means the
    /// default of 8. The SQLite writer always has exactly one connection.
    pub max_connections: u32,
}

impl StoreOptions {
    /// Options for `url` with the default pool size.
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: connect::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Hides the password of a url (`user:password@host`) so it can be logged.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// A handle on the database; cheap to clone (the pools are shared).
#[derive(Clone)]
pub struct Store {
    /// Serves every read. On SQLite these connections never write.
    read: AnyPool,
    /// Serves every write transaction. On SQLite it holds exactly one
    /// connection, so writers queue here rather than fail with SQLITE_BUSY;
    /// on PostgreSQL it is the same pool as `read`.
    write: AnyPool,
    /// The audit writer's own connection to a SQLite file (see
    /// `call_writer.rs`); `None` on PostgreSQL and in-memory SQLite.
    calls: Option<Arc<call_writer::CallWriter>>,
    backend: Backend,
}

/// What a group of finished calls leaves behind, written together by
/// [`Store::commit_calls`].
#[derive(Debug, Default)]
pub struct CallBatch {
    /// Their audit records; `seq`, `prev_hash` and `hash` are filled in.
    pub entries: Vec<AuditEntry>,
    /// Their token usage.
    pub usage: Vec<UsageRecord>,
    /// Key ids with their latest use (Unix milliseconds).
    pub key_uses: Vec<(String, i64)>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to the database at `opts.url` and applies any pending
    /// migrations. SQLite creates the file (and its directory) if missing.
    pub async fn connect(opts: &StoreOptions) -> Result<Store> {
        let backend = connect::backend_of(&opts.url)?;
        let pools = connect::open(opts, backend).await?;
        tracing::debug!(?backend, "store connected and migrated");
        Ok(Store {
            read: pools.read,
            write: pools.write,
            calls: pools.calls.map(Arc::new),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers; for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        if let Some(calls) = &self.calls {
            calls.close();
        }
        self.write.close().await;
        self.read.close().await;
    }

    /// Starts a write transaction.
    ///
    /// On SQLite this holds the only writer connection until committed or
    /// dropped: while a `Tx` is open, the same task must not call another
    /// writing `Store` method (`append_audit`, `touch_api_keys`, `begin`),
    /// or it waits for itself until the pool times out. Use the `Tx`
    /// methods instead.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = match self.backend {
            // IMMEDIATE takes the write lock up front, so a transaction that
            // reads (the audit tip) and then writes cannot lose the lock to
            // another process in between.
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(Tx {
            tx,
            backend: self.backend,
        })
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    tx: sqlx::Transaction<'static, Any>,
    backend: Backend,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let opts = StoreOptions::new("postgres://hearth:s3cret@db.local:5432/hearth");
        let shown = format!("{opts:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("hearth:***@db.local:5432/hearth"), "{shown}");
        assert_eq!(redact_url("postgres://pg@h/db"), "postgres://pg@h/db");
        assert_eq!(redact_url("sqlite://data/h.db"), "sqlite://data/h.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    }
}
