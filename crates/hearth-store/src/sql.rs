//! A minimal dynamic-query builder for the Any driver, and row decoding
//! helpers shared by every aggregate.
//!
//! Why not `sqlx::QueryBuilder`: with the Any driver in sqlx 0.8 its
//! `push_bind` always writes `?` placeholders (the backend is unknown when
//! the text is built), which PostgreSQL rejects (sqlx issue #3000). This
//! builder knows the backend: PostgreSQL gets `$N`, SQLite plain `?`.
//! SQLite treats `$N` as a *named* parameter, and sqlx then looks each name
//! up with a linear scan, so a 10,000-parameter batch INSERT costs O(P²);
//! anonymous `?` parameters bind by position.
//! It only accepts `&'static str` fragments, so no value can ever be spliced
//! into the SQL text: every value goes through a bind.

use crate::Backend;
use crate::error::StoreError;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Encode, Row, Type};
use std::fmt::Write as _;

/// SQL text plus its bound arguments, with `$N` placeholders.
pub(crate) struct SqlBuilder<'a> {
    backend: Backend,
    text: String,
    args: AnyArguments<'a>,
    binds: usize,
    /// The first encoding failure; reported by `finish` so building can
    /// chain without a `?` on every push.
    error: Option<sqlx::error::BoxDynError>,
}

impl<'a> SqlBuilder<'a> {
    pub(crate) fn new(backend: Backend, init: &'static str) -> Self {
        SqlBuilder {
            backend,
            text: String::from(init),
            args: AnyArguments::default(),
            binds: 0,
            error: None,
        }
    }

    /// Appends a fixed fragment of SQL.
    pub(crate) fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, Any> + Type<Any>,
    {
        self.binds += 1;
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            // Writing to a String cannot fail.
            Backend::Postgres => {
                let _ = write!(self.text, "${}", self.binds);
            }
        }
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// How many values are bound so far.
    pub(crate) fn binds(&self) -> usize {
        self.binds
    }

    /// The SQL text and its arguments, ready for `sqlx::query_with`.
    pub(crate) fn finish(self) -> Result<(String, AnyArguments<'a>), StoreError> {
        match self.error {
            Some(e) => Err(StoreError::Database(sqlx::Error::Encode(e))),
            None => Ok((self.text, self.args)),
        }
    }
}

/// Reads a boolean column. PostgreSQL stores `BOOLEAN`, but SQLite has no
/// boolean type the Any driver will decode (a column declared `BOOLEAN` is
/// refused outright), so there it is an `INTEGER` 0/1.
pub(crate) fn get_bool(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column).map_err(StoreError::from)? != 0),
    }
}

/// Decodes a JSON TEXT column; `what` names it (`table.column`) in the
/// error, since a value that does not parse can only be damaged data.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut b = SqlBuilder::new(Backend::Postgres, "SELECT 1 WHERE a = ");
        b.push_bind("x").push(" AND b = ").push_bind(7_i64);
        assert_eq!(b.binds(), 2);
        let (text, _) = b.finish().unwrap();
        assert_eq!(text, "SELECT 1 WHERE a = $1 AND b = $2");
        let mut b = SqlBuilder::new(Backend::Sqlite, "SELECT 1 WHERE a = ");
        b.push_bind("x").push(" AND b = ").push_bind(7_i64);
        let (text, _) = b.finish().unwrap();
        assert_eq!(text, "SELECT 1 WHERE a = ? AND b = ?");
    }
}
