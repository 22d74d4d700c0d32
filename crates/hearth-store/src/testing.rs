//! Fresh, isolated databases for tests, on either backend.
//!
//! SQLite tests get a file in a new temporary directory. PostgreSQL tests
//! share one server database but each gets its own schema, named
//! `hearth_t_<unixsecs>_<random hex>`, selected through the url's
//! `options=-c search_path=…` so that every pooled connection and the
//! migrations land in it. The schema is dropped when the `TestDatabase`
//! is; schemas older than an hour are dropped on the way in, which cleans
//! up after runs that crashed.

use crate::Backend;
use crate::error::{Result, StoreError};
use sqlx::AnyConnection;
use sqlx::any::install_default_drivers;
use sqlx::{Connection, Row};
use std::io::Write as _;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server tests use unless `HEARTH_TEST_POSTGRES_URL` says otherwise.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Test schemas are recognised by this prefix.
const SCHEMA_PREFIX: &str = "hearth_t_";

/// Schemas older than this are left over from earlier runs.
const STALE_AFTER_SECS: u64 = 3600;

/// How long to wait for the PostgreSQL server before calling it absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One test's database. Keep it alive for the duration of the test: for
/// SQLite, dropping it deletes the file.
pub struct TestDatabase {
    /// Pass this to `StoreOptions`.
    pub url: String,
    pub backend: Backend,
    /// Owns the SQLite file's directory.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server url and the schema to drop afterwards.
    schema: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop has no runtime to await on, so a short-lived thread with its
        // own does the work; best effort, the hourly sweep catches misses.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let connect = AnyConnection::connect(&base);
                let Ok(Ok(mut conn)) = tokio::time::timeout(CONNECT_TIMEOUT, connect).await else {
                    return;
                };
                // Identifiers cannot be bound; the name is ours, [a-z0-9_].
                let sql =
                    format!("SET lock_timeout = '2s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                let _ = conn.close().await;
            });
        });
        let _ = cleanup.join();
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// A fresh, empty database for one test.
    ///
    /// For PostgreSQL, returns `Ok(None)` when the server is not reachable,
    /// unless env `HEARTH_REQUIRE_POSTGRES=1` makes that an error; the
    /// skip is announced once per process on the real stderr, which the
    /// test harness does not capture.
    pub async fn new(backend: Backend) -> Result<Option<TestDatabase>> {
        match backend {
            Backend::Sqlite => {
                let dir =
                    tempfile::tempdir().map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
                let path = dir.path().join("hearth.db");
                Ok(Some(TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    _dir: Some(dir),
                    schema: None,
                }))
            }
            Backend::Postgres => new_postgres().await,
        }
    }
}

async fn new_postgres() -> Result<Option<TestDatabase>> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(install_default_drivers);

    let base = std::env::var("HEARTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let required = std::env::var("HEARTH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");

    let connected = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&base)).await;
    let mut conn = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) if !required => return skip(&base, &e.to_string()),
        Err(_) if !required => return skip(&base, "timed out"),
        Ok(Err(e)) => return Err(StoreError::Unavailable(e)),
        Err(_) => return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    drop_stale_schemas(&mut conn, now).await;

    // The random part comes from a UUIDv7's random tail: unique across
    // concurrent tests and processes.
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    let schema = format!("{SCHEMA_PREFIX}{now}_{}", &uuid[uuid.len() - 16..]);
    // Identifiers cannot be bound; the name is ours and only [a-z0-9_].
    sqlx::raw_sql(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await.ok();

    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    Ok(Some(TestDatabase {
        // `-c search_path=<schema>`, percent-encoded.
        url,
        backend: Backend::Postgres,
        _dir: None,
        schema: Some((base, schema)),
    }))
}

/// Drops test schemas created more than an hour ago. Best effort: another
/// process may be dropping the same ones.
async fn drop_stale_schemas(conn: &mut AnyConnection, now: u64) {
    let rows =
        sqlx::query("SELECT nspname FROM pg_namespace WHERE substr(nspname, 1, 9) = 'hearth_t_'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("nspname") else {
            continue;
        };
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let safe = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(created) = created
            && safe
            && created + STALE_AFTER_SECS < now
        {
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            let _ = sqlx::raw_sql(&sql).execute(&mut *conn).await;
        }
    }
}

/// Announces, once per process, that the PostgreSQL suite is skipped.
fn skip(url: &str, why: &str) -> Result<Option<TestDatabase>> {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Straight to the process's stderr: `eprintln!` is captured by the
        // test harness and would hide the skip in a passing run.
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL not reachable at {} ({why}): the postgres test suite was NOT run \
             (set HEARTH_REQUIRE_POSTGRES=1 to make this an error)",
            crate::redact_url(url)
        );
    });
    Ok(None)
}
