//! Organisations, users and API keys.

use crate::{key, org, raw_pool, seed, user};
use hearth_store::testing::TestDatabase;
use hearth_store::{Store, StoreError};
use hearth_types::{ApiKey, AuditEntry, AuditFilter, Org, Role};

pub async fn orgs_round_trip_and_names_are_unique(store: Store, _db: TestDatabase) {
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

pub async fn users_paginate_by_cursor_within_their_org(store: Store, _db: TestDatabase) {
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

pub async fn duplicate_email_is_a_conflict(store: Store, _db: TestDatabase) {
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

pub async fn user_updates_round_trip_booleans(store: Store, _db: TestDatabase) {
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

pub async fn api_keys_round_trip_and_paginate(store: Store, _db: TestDatabase) {
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

pub async fn touch_api_keys_keeps_the_latest_use(store: Store, _db: TestDatabase) {
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

pub async fn nulls_round_trip(store: Store, _db: TestDatabase) {
    let bare = Org {
        requests_per_minute: None,
        tokens_per_minute: None,
        allowed_models: None,
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

pub async fn corrupt_role_is_reported(store: Store, db: TestDatabase) {
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
