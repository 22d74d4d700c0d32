//! The store's behaviour, as one suite run against both backends.
//!
//! Each case is an `async fn(Store, TestDatabase)`; `suite!` generates
//! `sqlite::<case>` and `postgres::<case>` tests for it. Cases live in
//! `schema` (below), `identity.rs`, `audit.rs`, `usage.rs`, `responses.rs`
//! and `stored_responses.rs`. The PostgreSQL tests return early (after one
//! note on stderr) when no server is reachable, unless
//! `HEARTH_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod identity;
mod responses;
mod stored_responses;
mod usage;

use hearth_store::testing::TestDatabase;
use hearth_store::{Backend, Store, StoreError, StoreOptions};
use hearth_types::{ApiKey, AuditEntry, Org, Role, User};

async fn setup(backend: Backend) -> Option<(Store, TestDatabase)> {
    let db = TestDatabase::new(backend).await.expect("test database")?;
    let store = Store::connect(&StoreOptions::new(db.url.clone()))
        .await
        .expect("connect");
    assert_eq!(store.backend(), backend);
    Some((store, db))
}

macro_rules! suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, db) = crate::setup(hearth_store::Backend::Sqlite).await.unwrap();
                    crate::$module::$case(store, db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some((store, db)) = crate::setup(hearth_store::Backend::Postgres).await
                    else {
                        return;
                    };
                    crate::$module::$case(store, db).await;
                }
            )*
        }
    };
}

suite!(
    schema::migrations_apply_and_reconnecting_is_idempotent,
    schema::instance_settings_round_trip,
    schema::foreign_keys_are_enforced_and_sqlite_uses_wal,
    identity::orgs_round_trip_and_names_are_unique,
    identity::users_paginate_by_cursor_within_their_org,
    identity::duplicate_email_is_a_conflict,
    identity::user_updates_round_trip_booleans,
    identity::api_keys_round_trip_and_paginate,
    identity::touch_api_keys_keeps_the_latest_use,
    identity::nulls_round_trip,
    identity::corrupt_role_is_reported,
    audit::audit_batches_form_one_contiguous_chain,
    audit::tampering_is_found_at_the_edited_record,
    audit::deleting_a_record_breaks_the_chain,
    audit::list_audit_applies_every_filter,
    audit::dropped_transaction_leaves_nothing,
    audit::committed_transaction_writes_everything,
    audit::concurrent_appends_keep_the_chain_valid,
    audit::call_groups_and_transactions_share_one_chain,
    usage::usage_sums_by_every_grouping,
    usage::org_allow_lists_round_trip,
    responses::conversations_round_trip_with_metadata,
    responses::another_orgs_ids_are_invisible,
    responses::appended_items_are_numbered_contiguously,
    responses::items_without_conversation_are_numbered_per_response,
    responses::conversation_items_paginate_both_ways,
    responses::item_lookups_respect_their_scope,
    stored_responses::responses_round_trip_and_update,
    stored_responses::response_items_list_inputs_then_outputs,
    stored_responses::deleting_a_conversation_removes_its_items_and_detaches_responses,
    stored_responses::deleting_a_response_keeps_the_conversations_items,
    responses::concurrent_appends_get_unique_contiguous_seq,
    responses::corrupt_items_are_reported,
);

// ---- fixtures ------------------------------------------------------------

pub(crate) fn org(id: &str, name: &str) -> Org {
    Org {
        id: id.into(),
        name: name.into(),
        requests_per_minute: Some(600),
        tokens_per_minute: Some(1_000_000),
        allowed_models: Some(vec!["gpt-4o".into(), "claude-sonnet-4-5".into()]),
        created_at: 1_700_000_000_000,
    }
}

pub(crate) fn user(id: &str, org_id: &str, email: &str) -> User {
    User {
        id: id.into(),
        org_id: org_id.into(),
        email: email.into(),
        role: Role::Member,
        disabled: false,
        created_at: 1_700_000_000_001,
        updated_at: 1_700_000_000_002,
    }
}

pub(crate) fn key(id: &str, org_id: &str, user_id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        org_id: org_id.into(),
        user_id: user_id.into(),
        name: Some(format!("name of {id}")),
        prefix: format!("hk_{id}"),
        key_hash: format!("hash-of-{id}"),
        created_at: 1_700_000_000_003,
        expires_at: Some(1_800_000_000_000),
        revoked_at: None,
        last_used_at: None,
        requests_per_minute: Some(60),
    }
}

pub(crate) fn entry(id: &str) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        created_at: 1_700_000_000_000,
        request_id: format!("req_{id}"),
        org_id: Some("org_a".into()),
        user_id: Some("user_a".into()),
        key_prefix: Some("hk_a".into()),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        status: 200,
        latency_us: 1500,
        client_addr: Some("127.0.0.1:5000".into()),
        user_agent: Some("test".into()),
        model: Some("m".into()),
        input_tokens: Some(3),
        output_tokens: Some(4),
        ..AuditEntry::default()
    }
}

pub(crate) fn entries(prefix: &str, n: usize) -> Vec<AuditEntry> {
    (0..n).map(|i| entry(&format!("{prefix}_{i:05}"))).collect()
}

/// Creates org `org_a` with user `user_a`, the owners most cases need.
pub(crate) async fn seed(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&org("org_a", "Org A")).await.unwrap();
    tx.insert_user(&user("user_a", "org_a", "a@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A pool beside the store, for what the store deliberately cannot do
/// (tampering with the audit log, writing bad data).
pub(crate) async fn raw_pool(db: &TestDatabase) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

/// Migrations and instance settings.
mod schema {
    use crate::{org, raw_pool, seed, user};
    use hearth_store::testing::TestDatabase;
    use hearth_store::{Backend, Store, StoreError, StoreOptions};

    pub async fn migrations_apply_and_reconnecting_is_idempotent(store: Store, db: TestDatabase) {
        store.ping().await.unwrap();
        assert!(store.list_orgs().await.unwrap().is_empty());
        seed(&store).await;

        // A second connect finds every migration applied and the data intact.
        let again = Store::connect(&StoreOptions::new(db.url.clone()))
            .await
            .unwrap();
        assert_eq!(
            again.list_orgs().await.unwrap(),
            vec![org("org_a", "Org A")]
        );
        again.close().await;
        store.close().await;
    }

    pub async fn foreign_keys_are_enforced_and_sqlite_uses_wal(store: Store, db: TestDatabase) {
        // SQLite only enforces foreign keys when the connection asks to.
        let mut tx = store.begin().await.unwrap();
        let err = tx
            .insert_user(&user("user_x", "org_missing", "x@example.com"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        drop(tx);

        if db.backend == Backend::Sqlite {
            let raw = raw_pool(&db).await;
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&raw)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            raw.close().await;
        }
    }

    pub async fn instance_settings_round_trip(store: Store, _db: TestDatabase) {
        assert_eq!(store.instance_owner().await.unwrap(), None);
        assert_eq!(store.default_org().await.unwrap(), None);
        seed(&store).await;
        let mut tx = store.begin().await.unwrap();
        tx.set_instance("user_a", "org_a").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store.instance_owner().await.unwrap().as_deref(),
            Some("user_a")
        );
        assert_eq!(store.default_org().await.unwrap().as_deref(), Some("org_a"));

        // Setting again replaces, rather than conflicts.
        let mut tx = store.begin().await.unwrap();
        tx.set_instance("user_b", "org_b").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store.instance_owner().await.unwrap().as_deref(),
            Some("user_b")
        );
        assert_eq!(store.default_org().await.unwrap().as_deref(), Some("org_b"));
    }
}

// ---- outside the suite ---------------------------------------------------

#[tokio::test]
async fn unsupported_urls_are_refused_by_scheme() {
    let err = Store::connect(&StoreOptions::new("mysql://root:pw@localhost/hearth"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidUrl(m) if m.contains("mysql")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("pw@"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn sqlite_creates_its_directory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/hearth.db");
    let store = Store::connect(&StoreOptions::new(format!("sqlite://{}", path.display())))
        .await
        .unwrap();
    assert!(path.exists());
    seed(&store).await;
    assert_eq!(store.list_orgs().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect(&StoreOptions::new("sqlite::memory:"))
        .await
        .unwrap();
    seed(&store).await;
    assert!(store.get_user("user_a").await.unwrap().is_some());
    store.append_audit(entries("m", 2)).await.unwrap();
    // Without a file there is no second connection: call groups go
    // through the pool like everything else.
    store
        .commit_calls(&mut audit::calls("mc", 2, 10))
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.valid);
    assert_eq!(report.checked, 4);
}
