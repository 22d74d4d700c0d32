//! Token usage of model calls: appended in batches by the audit writer,
//! summed for admins.

use crate::error::Result;
use crate::sql::SqlBuilder;
use crate::{Backend, Store, Tx};
use hearth_types::usage::{UsageGroup, UsageQuery, UsageRecord, UsageTotal};
use sqlx::Row;

/// Rows per INSERT: 1,000 × 10 binds stays under every backend's limit.
const ROWS_PER_INSERT: usize = 1_000;

/// The usage_records columns, in insert order.
macro_rules! usage_columns {
    () => {
        "id, created_at, request_id, org_id, user_id, key_id, model, input_tokens, \
         output_tokens, estimated"
    };
}
pub(crate) use usage_columns;

impl Store {
    /// Appends usage records in one transaction.
    pub async fn record_usage(&self, records: &[UsageRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        tx.record_usage(records).await?;
        tx.commit().await
    }

    /// Sums usage by the query's grouping, largest total first.
    pub async fn usage_totals(&self, query: &UsageQuery) -> Result<Vec<UsageTotal>> {
        let mut q = SqlBuilder::new(self.backend, "SELECT ");
        q.push(match query.group_by {
            UsageGroup::Model => "model",
            UsageGroup::User => "user_id",
            UsageGroup::Key => "COALESCE(key_id, '')",
            // Integer division on BIGINT in both dialects.
            UsageGroup::Day => "CAST((created_at / 86400000) * 86400 AS TEXT)",
        });
        q.push(
            // SUM over BIGINT is NUMERIC on PostgreSQL, which the Any
            // driver cannot decode: cast it back.
            " AS grp, COUNT(*) AS requests, CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
             CAST(SUM(output_tokens) AS BIGINT) AS output_tokens FROM usage_records WHERE 1 = 1",
        );
        if let Some(org) = &query.org_id {
            q.push(" AND org_id = ").push_bind(org.clone());
        }
        if let Some(user) = &query.user_id {
            q.push(" AND user_id = ").push_bind(user.clone());
        }
        if let Some(model) = &query.model {
            q.push(" AND model = ").push_bind(model.clone());
        }
        if let Some(since) = query.since {
            q.push(" AND created_at >= ").push_bind(since);
        }
        if let Some(until) = query.until {
            q.push(" AND created_at < ").push_bind(until);
        }
        q.push(" GROUP BY grp ORDER BY grp");
        let (text, args) = q.finish()?;
        let rows = sqlx::query_with(&text, args).fetch_all(&self.read).await?;
        let mut totals = rows
            .iter()
            .map(|row| {
                let input: i64 = row.try_get("input_tokens")?;
                let output: i64 = row.try_get("output_tokens")?;
                Ok(UsageTotal {
                    group: row.try_get("grp")?,
                    requests: row.try_get("requests")?,
                    input_tokens: input,
                    output_tokens: output,
                    total_tokens: input + output,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        totals.sort_by(|a, b| {
            b.total_tokens
                .cmp(&a.total_tokens)
                .then(a.group.cmp(&b.group))
        });
        Ok(totals)
    }
}

impl Tx {
    /// [`Store::record_usage`] inside this transaction.
    pub async fn record_usage(&mut self, records: &[UsageRecord]) -> Result<()> {
        for chunk in records.chunks(ROWS_PER_INSERT) {
            let mut q = SqlBuilder::new(
                self.backend,
                concat!("INSERT INTO usage_records (", usage_columns!(), ") VALUES "),
            );
            for (i, r) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.push_bind(r.id.clone()).push(", ");
                q.push_bind(r.created_at).push(", ");
                q.push_bind(r.request_id.clone()).push(", ");
                q.push_bind(r.org_id.clone()).push(", ");
                q.push_bind(r.user_id.clone()).push(", ");
                q.push_bind(r.key_id.clone()).push(", ");
                q.push_bind(r.model.clone()).push(", ");
                q.push_bind(r.input_tokens).push(", ");
                q.push_bind(r.output_tokens).push(", ");
                match self.backend {
                    Backend::Sqlite => q.push_bind(i64::from(r.estimated)),
                    Backend::Postgres => q.push_bind(r.estimated),
                };
                q.push(")");
            }
            let (text, args) = q.finish()?;
            sqlx::query_with(&text, args).execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}
