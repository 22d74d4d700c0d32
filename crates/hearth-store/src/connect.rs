//! Opening the pools for a database url and applying the migrations.
//!
//! SQLite gets two pools over the same file: readers (many) and a writer
//! (exactly one connection). SQLite allows one writer at a time anyway;
//! queueing writers on our own pool instead of in SQLite's busy handler
//! means a write never fails with SQLITE_BUSY under load. PostgreSQL uses
//! one pool for both.

use crate::call_writer::CallWriter;
use crate::error::{Result, StoreError};
use crate::{Backend, StoreOptions};
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::path::Path;
use std::sync::Once;

/// Reader pool size when the options leave it at zero.
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Per-connection SQLite settings. WAL lets readers run beside the writer;
/// NORMAL sync is durable across application crashes and only risks the
/// last transactions on power loss, which WAL keeps consistent; foreign
/// keys are off by default in SQLite; the busy timeout covers the rare
/// cross-process contention (e.g. an operator's sqlite3 shell).
pub(crate) const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The opened pools of a store.
pub(crate) struct Pools {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    pub(crate) calls: Option<CallWriter>,
}

/// Tells the backend from the url scheme.
pub(crate) fn backend_of(url: &str) -> Result<Backend> {
    let scheme = url.split_once(':').map(|(s, _)| s);
    match scheme {
        Some("sqlite") => Ok(Backend::Sqlite),
        Some("postgres" | "postgresql") => Ok(Backend::Postgres),
        Some(other) => Err(StoreError::InvalidUrl(format!(
            "unsupported scheme '{other}:' (expected sqlite: or postgres:)"
        ))),
        None => Err(StoreError::InvalidUrl(
            "no scheme (expected sqlite: or postgres:)".to_owned(),
        )),
    }
}

pub(crate) async fn open(opts: &StoreOptions, backend: Backend) -> Result<Pools> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(install_default_drivers);

    let max = match opts.max_connections {
        0 => DEFAULT_MAX_CONNECTIONS,
        n => n,
    };
    match backend {
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(max)
                .connect(&opts.url)
                .await
                .map_err(connect_error)?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Pools {
                read: pool.clone(),
                write: pool,
                calls: None,
            })
        }
        Backend::Sqlite => open_sqlite(&opts.url, max).await,
    }
}

async fn open_sqlite(url: &str, max: u32) -> Result<Pools> {
    let (path, params) = sqlite_path(url);
    if is_memory(path, params) {
        // Every connection to `:memory:` is its own database, so one
        // connection that never expires serves both roles.
        let pool = sqlite_pool_options(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect(url)
            .await
            .map_err(connect_error)?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        return Ok(Pools {
            read: pool.clone(),
            write: pool,
            calls: None,
        });
    }

    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
    }
    let url = with_create_mode(url, params);

    // The writer opens (and migrates) first, so the switch to WAL is done
    // before readers connect and race for it.
    let write = sqlite_pool_options(1)
        .connect(&url)
        .await
        .map_err(connect_error)?;
    SQLITE_MIGRATIONS.run(&write).await?;
    let read = sqlite_pool_options(max)
        .connect(&url)
        .await
        .map_err(connect_error)?;
    // The file as SQLite resolved it from the url, for the audit writer's
    // own connection.
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&write)
            .await?;
    let calls = if file.is_empty() {
        None
    } else {
        Some(CallWriter::open(Path::new(&file))?)
    };
    Ok(Pools { read, write, calls })
}

fn sqlite_pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        // A local file does not drop connections; pinging one before every
        // use would cost a round trip to its worker thread per transaction.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
}

/// Splits a SQLite url into its file path and query string, the way sqlx
/// reads it (`sqlite://rel/path`, `sqlite:///abs/path`, `sqlite:path`).
fn sqlite_path(url: &str) -> (&str, Option<&str>) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    }
}

fn is_memory(path: &str, params: Option<&str>) -> bool {
    path == ":memory:" || params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"))
}

/// Adds `mode=rwc` unless the url already sets a mode, so a fresh install
/// creates its database file.
fn with_create_mode(url: &str, params: Option<&str>) -> String {
    match params {
        Some(p) if p.split('&').any(|kv| kv.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

/// A url sqlx cannot parse is a configuration error; anything else while
/// connecting is an outage.
fn connect_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Configuration(e) => StoreError::InvalidUrl(e.to_string()),
        other => StoreError::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_scheme() {
        assert_eq!(backend_of("sqlite://a.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("postgresql://h/db").unwrap(), Backend::Postgres);
        let err = backend_of("mysql://u:secret@h/db").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::InvalidUrl(_)));
        assert!(msg.contains("mysql"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert!(matches!(
            backend_of("nothing"),
            Err(StoreError::InvalidUrl(_))
        ));
    }

    #[test]
    fn sqlite_urls_split_like_sqlx_reads_them() {
        assert_eq!(
            sqlite_path("sqlite://hearth-data/hearth.db"),
            ("hearth-data/hearth.db", None)
        );
        assert_eq!(
            sqlite_path("sqlite:///abs/x.db?mode=ro"),
            ("/abs/x.db", Some("mode=ro"))
        );
        assert_eq!(sqlite_path("sqlite:x.db"), ("x.db", None));
        assert!(is_memory(":memory:", None));
        assert!(!is_memory("x.db", Some("cache=shared")));
    }

    #[test]
    fn create_mode_is_added_once() {
        assert_eq!(
            with_create_mode("sqlite://a.db", None),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=shared", Some("cache=shared")),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro", Some("mode=ro")),
            "sqlite://a.db?mode=ro"
        );
    }
}
