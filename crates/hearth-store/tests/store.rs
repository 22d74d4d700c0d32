//! The store's behaviour, as one suite run against both backends.
//!
//! Each case is an `async fn(Store, TestDatabase)`; `suite!` generates
//! `sqlite::<case>` and `postgres::<case>` tests for it. The PostgreSQL
//! tests return early (after one note on stderr) when no server is
//! reachable, unless `HEARTH_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hearth_store::testing::TestDatabase;
use hearth_store::{Backend, Store, StoreError, StoreOptions};
use hearth_types::{ApiKey, AuditEntry, AuditFilter, Org, Role, User};
use std::collections::HashSet;

async fn setup(backend: Backend) -> Option<(Store, TestDatabase)> {
    let db = TestDatabase::new(backend).await.expect("test database")?;
    let store = Store::connect(&StoreOptions::new(db.url.clone()))
        .await
        .expect("connect");
    assert_eq!(store.backend(), backend);
    Some((store, db))
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, db) = super::setup(hearth_store::Backend::Sqlite).await.unwrap();
                    super::$case(store, db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some((store, db)) = super::setup(hearth_store::Backend::Postgres).await
                    else {
                        return;
                    };
                    super::$case(store, db).await;
                }
            )*
        }
    };
}

suite!(
    migrations_apply_and_reconnecting_is_idempotent,
    instance_settings_round_trip,
    orgs_round_trip_and_names_are_unique,
    users_paginate_by_cursor_within_their_org,
    duplicate_email_is_a_conflict,
    user_updates_round_trip_booleans,
    api_keys_round_trip_and_paginate,
    touch_api_keys_keeps_the_latest_use,
    nulls_round_trip,
    corrupt_role_is_reported,
    audit_batches_form_one_contiguous_chain,
    tampering_is_found_at_the_edited_record,
    deleting_a_record_breaks_the_chain,
    list_audit_applies_every_filter,
    dropped_transaction_leaves_nothing,
    committed_transaction_writes_everything,
    concurrent_appends_keep_the_chain_valid,
);

// ---- fixtures ------------------------------------------------------------

fn org(id: &str, name: &str) -> Org {
    Org {
        id: id.into(),
        name: name.into(),
        requests_per_minute: Some(600),
        tokens_per_minute: Some(1_000_000),
        created_at: 1_700_000_000_000,
    }
}

fn user(id: &str, org_id: &str, email: &str) -> User {
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

fn key(id: &str, org_id: &str, user_id: &str) -> ApiKey {
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

fn entry(id: &str) -> AuditEntry {
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

fn entries(prefix: &str, n: usize) -> Vec<AuditEntry> {
    (0..n).map(|i| entry(&format!("{prefix}_{i:05}"))).collect()
}

/// Creates org `org_a` with user `user_a`, the owners most cases need.
async fn seed(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&org("org_a", "Org A")).await.unwrap();
    tx.insert_user(&user("user_a", "org_a", "a@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A pool beside the store, for what the store deliberately cannot do
/// (tampering with the audit log, writing bad data).
async fn raw_pool(db: &TestDatabase) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

// ---- schema and instance -------------------------------------------------

async fn migrations_apply_and_reconnecting_is_idempotent(store: Store, db: TestDatabase) {
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

async fn instance_settings_round_trip(store: Store, _db: TestDatabase) {
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

// ---- orgs, users, keys ---------------------------------------------------

async fn orgs_round_trip_and_names_are_unique(store: Store, _db: TestDatabase) {
    let mut tx = store.begin().await.unwrap();
    for (id, name) in [("org_c", "Gamma"), ("org_a", "Alpha"), ("org_b", "Beta")] {
        tx.insert_org(&org(id, name)).await.unwrap();
    }
    tx.commit().await.unwrap();

    assert_eq!(
        store.get_org("org_b").await.unwrap(),
        Some(org("org_b", "Beta"))
    );
    assert_eq!(store.get_org("org_x").await.unwrap(), None);
    assert_eq!(
        store.find_org_by_name("Gamma").await.unwrap(),
        Some(org("org_c", "Gamma"))
    );
    let ids: Vec<String> = store
        .list_orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, ["org_a", "org_b", "org_c"]);

    let mut changed = org("org_b", "Beta Two");
    changed.requests_per_minute = None;
    changed.tokens_per_minute = Some(5);
    let mut tx = store.begin().await.unwrap();
    tx.update_org(&changed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_org("org_b").await.unwrap(), Some(changed));

    let mut tx = store.begin().await.unwrap();
    let err = tx.insert_org(&org("org_d", "Alpha")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("organization name")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    let err = tx.update_org(&org("org_c", "Alpha")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("organization name")),
        "{err:?}"
    );
}

async fn users_paginate_by_cursor_within_their_org(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&org("org_b", "Org B")).await.unwrap();
    for i in 1..=5 {
        let id = format!("user_a{i}");
        tx.insert_user(&user(&id, "org_a", &format!("{id}@example.com")))
            .await
            .unwrap();
    }
    tx.insert_user(&user("user_b1", "org_b", "b@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_users("org_a", after.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        seen.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(
        seen,
        [
            "user_a", "user_a1", "user_a2", "user_a3", "user_a4", "user_a5"
        ]
    );
    let b: Vec<String> = store
        .list_users("org_b", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(b, ["user_b1"]);
    assert!(store.list_users("org_a", None, 0).await.unwrap().is_empty());

    assert_eq!(
        store.get_user("user_a3").await.unwrap(),
        Some(user("user_a3", "org_a", "user_a3@example.com"))
    );
    let found = store
        .find_user_by_email("org_a", "user_a2@example.com")
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id).as_deref(), Some("user_a2"));
    // The same address in another org is someone else.
    assert_eq!(
        store
            .find_user_by_email("org_b", "user_a2@example.com")
            .await
            .unwrap(),
        None
    );
}

async fn duplicate_email_is_a_conflict(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_user(&user("user_other", "org_a", "a@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("email")), "{err:?}");
    assert_eq!(err.to_string(), "email already exists");
    drop(tx);

    // Unique per organisation, not per instance.
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&org("org_b", "Org B")).await.unwrap();
    tx.insert_user(&user("user_b", "org_b", "a@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // A reused id is a conflict too, just not an email one.
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_user(&user("user_a", "org_a", "new@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("record")), "{err:?}");
}

async fn user_updates_round_trip_booleans(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut u = store.get_user("user_a").await.unwrap().unwrap();
    assert!(!u.disabled);
    u.role = Role::Admin;
    u.disabled = true;
    u.updated_at += 1000;
    let mut tx = store.begin().await.unwrap();
    tx.update_user(&u).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_user("user_a").await.unwrap(), Some(u.clone()));

    u.disabled = false;
    u.role = Role::Viewer;
    let mut tx = store.begin().await.unwrap();
    tx.update_user(&u).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_user("user_a").await.unwrap(), Some(u));
}

async fn api_keys_round_trip_and_paginate(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("user_a2", "org_a", "a2@example.com"))
        .await
        .unwrap();
    tx.insert_org(&org("org_b", "Org B")).await.unwrap();
    tx.insert_user(&user("user_b", "org_b", "b@example.com"))
        .await
        .unwrap();
    for id in ["key_1", "key_2", "key_3"] {
        tx.insert_api_key(&key(id, "org_a", "user_a"))
            .await
            .unwrap();
    }
    tx.insert_api_key(&key("key_4", "org_a", "user_a2"))
        .await
        .unwrap();
    tx.insert_api_key(&key("key_5", "org_b", "user_b"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.get_api_key("key_2").await.unwrap(),
        Some(key("key_2", "org_a", "user_a"))
    );
    assert_eq!(
        store.find_api_key_by_hash("hash-of-key_4").await.unwrap(),
        Some(key("key_4", "org_a", "user_a2"))
    );
    assert_eq!(
        store.find_api_key_by_hash("hash-of-nothing").await.unwrap(),
        None
    );

    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    let all = store.list_api_keys("org_a", None, None, 10).await.unwrap();
    assert_eq!(ids(all), ["key_1", "key_2", "key_3", "key_4"]);
    let page = store
        .list_api_keys("org_a", Some("user_a"), Some("key_1"), 1)
        .await
        .unwrap();
    assert_eq!(ids(page), ["key_2"]);
    let page = store
        .list_api_keys("org_a", Some("user_a"), Some("key_2"), 5)
        .await
        .unwrap();
    assert_eq!(ids(page), ["key_3"]);
    let other = store.list_api_keys("org_b", None, None, 10).await.unwrap();
    assert_eq!(ids(other), ["key_5"]);

    // Update the mutable fields; last_used_at belongs to touch_api_keys.
    store
        .touch_api_keys(&[("key_1".to_owned(), 42)])
        .await
        .unwrap();
    let mut k = key("key_1", "org_a", "user_a");
    k.name = None;
    k.revoked_at = Some(1_750_000_000_000);
    k.expires_at = None;
    k.requests_per_minute = Some(7);
    k.last_used_at = Some(1); // ignored by update_api_key
    let mut tx = store.begin().await.unwrap();
    tx.update_api_key(&k).await.unwrap();
    tx.commit().await.unwrap();
    k.last_used_at = Some(42);
    assert_eq!(store.get_api_key("key_1").await.unwrap(), Some(k));

    let mut tx = store.begin().await.unwrap();
    let mut dup = key("key_9", "org_a", "user_a");
    dup.key_hash = "hash-of-key_1".into();
    let err = tx.insert_api_key(&dup).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("record")), "{err:?}");
}

async fn touch_api_keys_keeps_the_latest_use(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&key("key_1", "org_a", "user_a"))
        .await
        .unwrap();
    tx.insert_api_key(&key("key_2", "org_a", "user_a"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let last_used = |id: &'static str| {
        let store = store.clone();
        async move { store.get_api_key(id).await.unwrap().unwrap().last_used_at }
    };

    store.touch_api_keys(&[]).await.unwrap();
    // The UPDATE reuses `$1`; this also checks SQLite binds `$N` by number.
    store
        .touch_api_keys(&[
            ("key_1".to_owned(), 100),
            ("key_2".to_owned(), 50),
            ("key_missing".to_owned(), 10),
        ])
        .await
        .unwrap();
    assert_eq!(last_used("key_1").await, Some(100));
    assert_eq!(last_used("key_2").await, Some(50));

    // An older use reported late does not move it back, in or across batches.
    store
        .touch_api_keys(&[("key_1".to_owned(), 80), ("key_2".to_owned(), 70)])
        .await
        .unwrap();
    assert_eq!(last_used("key_1").await, Some(100));
    assert_eq!(last_used("key_2").await, Some(70));
    store
        .touch_api_keys(&[("key_1".to_owned(), 150), ("key_1".to_owned(), 120)])
        .await
        .unwrap();
    assert_eq!(last_used("key_1").await, Some(150));
}

async fn nulls_round_trip(store: Store, _db: TestDatabase) {
    let bare = Org {
        requests_per_minute: None,
        tokens_per_minute: None,
        ..org("org_n", "Nulls")
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&bare).await.unwrap();
    tx.insert_user(&user("user_n", "org_n", "n@example.com"))
        .await
        .unwrap();
    let k = ApiKey {
        name: None,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        requests_per_minute: None,
        ..key("key_n", "org_n", "user_n")
    };
    tx.insert_api_key(&k).await.unwrap();
    // An unauthenticated call: every optional field absent.
    let anonymous = AuditEntry {
        id: "audit_anon".into(),
        request_id: "req_anon".into(),
        method: "GET".into(),
        path: "/v1/models".into(),
        status: 401,
        ..AuditEntry::default()
    };
    let appended = tx.append_audit(vec![anonymous]).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.get_org("org_n").await.unwrap(), Some(bare));
    assert_eq!(store.get_api_key("key_n").await.unwrap(), Some(k));
    let listed = store
        .list_audit(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed, appended);
    assert_eq!(listed[0].org_id, None);
    assert!(store.verify_audit_chain().await.unwrap().valid);
}

async fn corrupt_role_is_reported(store: Store, db: TestDatabase) {
    seed(&store).await;
    let raw = raw_pool(&db).await;
    sqlx::query("UPDATE users SET role = 'root' WHERE id = 'user_a'")
        .execute(&raw)
        .await
        .unwrap();
    let err = store.get_user("user_a").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("root")),
        "{err:?}"
    );
    raw.close().await;
}

// ---- audit log -----------------------------------------------------------

async fn audit_batches_form_one_contiguous_chain(store: Store, _db: TestDatabase) {
    let empty = store.verify_audit_chain().await.unwrap();
    assert_eq!(empty.checked, 0);
    assert!(empty.valid);
    assert_eq!(empty.last_hash, None);
    assert!(store.append_audit(Vec::new()).await.unwrap().is_empty());

    let mut all = Vec::new();
    // The last batch exceeds both the rows per INSERT and the verify page.
    for (i, n) in [1, 5, 3, 1200].into_iter().enumerate() {
        let batch = store
            .append_audit(entries(&format!("b{i}"), n))
            .await
            .unwrap();
        assert_eq!(batch.len(), n);
        all.extend(batch);
    }
    assert_eq!(all[0].prev_hash, "");
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "contiguous seq");
        if i > 0 {
            assert_eq!(e.prev_hash, all[i - 1].hash, "link at seq {}", e.seq);
        }
        assert_eq!(e.hash, hearth_store::audit::chain_hash(e));
    }

    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!(
        report,
        hearth_store::ChainReport {
            checked: all.len() as i64,
            valid: true,
            first_broken_seq: None,
            last_hash: all.last().map(|e| e.hash.clone()),
        }
    );
    // What the store returned is what it stored.
    let stored = store
        .list_audit(&AuditFilter {
            limit: 3,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let newest: Vec<AuditEntry> = all.iter().rev().take(3).cloned().collect();
    assert_eq!(stored, newest);
    assert_eq!(store.audit_seq_of("b1_00002").await.unwrap(), Some(4));
    assert_eq!(store.audit_seq_of("nope").await.unwrap(), None);
}

async fn tampering_is_found_at_the_edited_record(store: Store, db: TestDatabase) {
    store.append_audit(entries("t", 5)).await.unwrap();
    let raw = raw_pool(&db).await;
    sqlx::query("UPDATE audit_log SET path = '/v1/innocent' WHERE seq = 3")
        .execute(&raw)
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(!report.valid);
    assert_eq!(report.first_broken_seq, Some(3));
    assert_eq!(report.checked, 3);

    // Recomputing the edited record's own hash only moves the break on.
    let tampered = store
        .list_audit(&AuditFilter {
            before_seq: Some(4),
            limit: 1,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .remove(0);
    sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 3")
        .bind(hearth_store::audit::chain_hash(&tampered))
        .execute(&raw)
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit_chain().await.unwrap().first_broken_seq,
        Some(4)
    );
    raw.close().await;
}

async fn deleting_a_record_breaks_the_chain(store: Store, db: TestDatabase) {
    store.append_audit(entries("d", 4)).await.unwrap();
    let raw = raw_pool(&db).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&raw)
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(!report.valid);
    assert_eq!(report.first_broken_seq, Some(3));
    raw.close().await;
}

async fn list_audit_applies_every_filter(store: Store, _db: TestDatabase) {
    let mut batch = Vec::new();
    for i in 0..10_i64 {
        let mut e = entry(&format!("f_{i:02}"));
        e.created_at = 1_000 + i * 100;
        e.org_id = Some(if i % 2 == 0 { "org_even" } else { "org_odd" }.into());
        e.user_id = Some(format!("user_{}", i % 3));
        e.key_prefix = Some(format!("hk_{}", i % 3));
        e.status = if i == 7 { 429 } else { 200 };
        e.method = if i < 5 { "POST" } else { "GET" }.into();
        e.path = match i {
            0 => "/v1/admin/users".into(),
            1 => "/v1/admin/api-keys".into(),
            // Wildcard characters in data must be matched literally.
            2 => "/v1/a%_x".into(),
            3 => "/V1/ADMIN/upper".into(),
            _ => "/v1/chat/completions".into(),
        };
        e.action = (i == 4).then(|| "user.create".into());
        batch.push(e);
    }
    store.append_audit(batch).await.unwrap();

    let ids = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .list_audit(&AuditFilter {
                    limit: if filter.limit == 0 { 100 } else { filter.limit },
                    ..filter
                })
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    let none = AuditFilter::default();

    // Newest first.
    let all = ids(none.clone()).await;
    assert_eq!(all.len(), 10);
    assert_eq!(all[0], "f_09");
    assert_eq!(all[9], "f_00");

    let f = |edit: fn(&mut AuditFilter)| {
        let mut f = AuditFilter::default();
        edit(&mut f);
        f
    };
    assert_eq!(
        ids(f(|f| f.org_id = Some("org_odd".into()))).await,
        ["f_09", "f_07", "f_05", "f_03", "f_01"]
    );
    assert_eq!(
        ids(f(|f| f.user_id = Some("user_0".into()))).await,
        ["f_09", "f_06", "f_03", "f_00"]
    );
    assert_eq!(
        ids(f(|f| f.key_prefix = Some("hk_1".into()))).await,
        ["f_07", "f_04", "f_01"]
    );
    assert_eq!(ids(f(|f| f.status = Some(429))).await, ["f_07"]);
    assert_eq!(
        ids(f(|f| f.method = Some("POST".into()))).await,
        ["f_04", "f_03", "f_02", "f_01", "f_00"]
    );
    assert_eq!(
        ids(f(|f| f.action = Some("user.create".into()))).await,
        ["f_04"]
    );
    assert_eq!(
        ids(f(|f| f.path_prefix = Some("/v1/admin/".into()))).await,
        ["f_01", "f_00"],
        "prefix match is case-sensitive"
    );
    assert_eq!(
        ids(f(|f| f.path_prefix = Some("/v1/a%".into()))).await,
        ["f_02"]
    );
    assert!(
        ids(f(|f| f.path_prefix = Some("/v1/a_m".into())))
            .await
            .is_empty()
    );
    // since is inclusive, until exclusive.
    assert_eq!(
        ids(f(|f| {
            f.since = Some(1_300);
            f.until = Some(1_600);
        }))
        .await,
        ["f_05", "f_04", "f_03"]
    );
    // Cursor paging with a limit walks everything exactly once.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_audit(&AuditFilter {
                before_seq: before,
                limit: 4,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen, all);
    // Filters combine.
    assert_eq!(
        ids(f(|f| {
            f.org_id = Some("org_even".into());
            f.method = Some("GET".into());
            f.before_seq = Some(9);
        }))
        .await,
        ["f_06"]
    );
}

async fn dropped_transaction_leaves_nothing(store: Store, _db: TestDatabase) {
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_org(&org("org_gone", "Gone")).await.unwrap();
        let appended = tx.append_audit(entries("gone", 3)).await.unwrap();
        assert_eq!(appended[2].seq, 3);
        // Dropped without commit.
    }
    assert_eq!(store.get_org("org_gone").await.unwrap(), None);
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!(report.checked, 0);
    // The rolled-back seqs are reused: the chain has no hole.
    let kept = store.append_audit(entries("kept", 1)).await.unwrap();
    assert_eq!(kept[0].seq, 1);
    assert_eq!(kept[0].prev_hash, "");
}

async fn committed_transaction_writes_everything(store: Store, _db: TestDatabase) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&org("org_a", "Org A")).await.unwrap();
    tx.insert_user(&user("user_a", "org_a", "a@example.com"))
        .await
        .unwrap();
    let mut record = entry("state_change");
    record.action = Some("user.create".into());
    record.resource_id = Some("user_a".into());
    tx.append_audit(vec![record]).await.unwrap();
    tx.append_audit(entries("more", 2)).await.unwrap();
    tx.commit().await.unwrap();

    assert!(store.get_user("user_a").await.unwrap().is_some());
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.valid);
    assert_eq!(report.checked, 3);
}

async fn concurrent_appends_keep_the_chain_valid(store: Store, db: TestDatabase) {
    // A second store on the same database stands in for another replica
    // (PostgreSQL) or another process (SQLite).
    let other = Store::connect(&StoreOptions::new(db.url.clone()))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = if t % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for b in 0..10 {
                s.append_audit(entries(&format!("c{t}_{b}"), 3))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.checked, 240);
    let listed = store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let seqs: HashSet<i64> = listed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 240);
    assert_eq!(seqs, (1..=240).collect());
    other.close().await;
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
    assert!(store.verify_audit_chain().await.unwrap().valid);
}
