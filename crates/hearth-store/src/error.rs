//! The store's error type and how raw sqlx errors are classified into it.
//!
//! Callers branch on the variant (retry, 409, 500), so the classification
//! here is what decides whether a failure is the caller's fault, a passing
//! outage, or a bug.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database url is malformed or names an unsupported backend. The
    /// message names the scheme, never the whole url (it may hold a password).
    /// Not retryable: fix the configuration.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// The database could not be reached, the pool is exhausted or closed, or
    /// the database asked us to try again (busy, serialization failure,
    /// shutting down). Retryable.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique constraint refused the write; the payload names what already
    /// exists ("email", "organization name", or "record"). Not retryable.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A write depends on a record that does not exist in the organisation,
    /// e.g. items appended to a conversation that is gone (perhaps deleted
    /// meanwhile); the payload names it ("conversation"). Not retryable.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Applying the embedded migrations failed, e.g. the database holds a
    /// migration this binary does not know (a newer Hearth wrote it).
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (unknown role text, a column of
    /// the wrong type). Not retryable: the data needs repair.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error; a bug or an operator problem.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// Whether the same call may succeed if simply tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        classify(err, &[])
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            // A lost connection during migration is an outage like any other.
            sqlx::migrate::MigrateError::Execute(e) if is_unavailable(&e) => {
                StoreError::Unavailable(e)
            }
            other => StoreError::Migrate(other),
        }
    }
}

/// Classifies a sqlx error. For unique violations, `fields` maps a fragment
/// of the violated constraint (PostgreSQL names it; SQLite lists its
/// columns in the message) to the name reported in `Conflict`.
pub(crate) fn classify(err: sqlx::Error, fields: &[(&str, &'static str)]) -> StoreError {
    if is_unavailable(&err) {
        return StoreError::Unavailable(err);
    }
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let constraint = db.constraint().unwrap_or_default();
            let message = db.message();
            let what = fields
                .iter()
                .find(|(needle, _)| constraint.contains(needle) || message.contains(needle))
                .map_or("record", |(_, name)| name);
            StoreError::Conflict(what)
        }
        e @ (sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)) => {
            StoreError::Corrupt(e.to_string())
        }
        other => StoreError::Database(other),
    }
}

/// Whether the error is a passing condition rather than a fault of the
/// request or the data.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            // The Any driver passes the backend's own error through, so the
            // code's dialect is told by the error's concrete type.
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                retryable_sqlstate(&code)
            } else {
                retryable_sqlite_code(&code)
            }
        }
        _ => false,
    }
}

/// SQLite reports its (extended) numeric result code; the low byte is the
/// primary code. 5 = SQLITE_BUSY, 6 = SQLITE_LOCKED.
fn retryable_sqlite_code(code: &str) -> bool {
    code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// PostgreSQL: connection exceptions (08), insufficient resources (53),
/// operator intervention such as shutdown (57P0x), serialization failure
/// and deadlock (40001, 40P01).
fn retryable_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || code == "40001"
        || code == "40P01"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_conditions_are_retryable() {
        assert!(StoreError::Unavailable(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!StoreError::Conflict("email").is_retryable());
        assert!(!StoreError::NotFound("conversation").is_retryable());
        assert!(!StoreError::Corrupt("x".into()).is_retryable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_retryable());
        assert!(classify(sqlx::Error::PoolClosed, &[]).is_retryable());
    }

    #[test]
    fn retryable_codes_cover_both_backends() {
        assert!(retryable_sqlite_code("5"));
        assert!(retryable_sqlite_code("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(!retryable_sqlite_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(retryable_sqlstate("40001"));
        assert!(retryable_sqlstate("57P01"));
        assert!(retryable_sqlstate("08006"));
        assert!(!retryable_sqlstate("23505"));
    }
}
