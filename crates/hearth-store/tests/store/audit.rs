//! The audit log: chain, tamper evidence, filters, transactions.

use crate::{entries, entry, key, org, raw_pool, seed, user};
use hearth_store::testing::TestDatabase;
use hearth_store::{CallBatch, Store, StoreOptions};
use hearth_types::usage::{UsageGroup, UsageQuery, UsageRecord};
use hearth_types::{AuditEntry, AuditFilter};
use std::collections::HashSet;

pub async fn audit_batches_form_one_contiguous_chain(store: Store, _db: TestDatabase) {
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
    assert_eq!(store.audit_seq_of("b1_00002", None).await.unwrap(), Some(4));
    assert_eq!(store.audit_seq_of("nope", None).await.unwrap(), None);
    assert_eq!(
        store.audit_seq_of("b1_00002", Some("org_a")).await.unwrap(),
        Some(4)
    );
    assert_eq!(
        store
            .audit_seq_of("b1_00002", Some("org_other"))
            .await
            .unwrap(),
        None
    );
}

pub async fn tampering_is_found_at_the_edited_record(store: Store, db: TestDatabase) {
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

pub async fn deleting_a_record_breaks_the_chain(store: Store, db: TestDatabase) {
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

pub async fn list_audit_applies_every_filter(store: Store, _db: TestDatabase) {
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

pub async fn dropped_transaction_leaves_nothing(store: Store, _db: TestDatabase) {
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

pub async fn committed_transaction_writes_everything(store: Store, _db: TestDatabase) {
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

pub async fn concurrent_appends_keep_the_chain_valid(store: Store, db: TestDatabase) {
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

/// The calls of one `commit_calls` group: records, usage and key uses.
pub(crate) fn calls(prefix: &str, n: usize, at: i64) -> CallBatch {
    CallBatch {
        entries: entries(prefix, n),
        usage: (0..n)
            .map(|i| UsageRecord {
                id: format!("usage_{prefix}_{i:05}"),
                created_at: at,
                request_id: format!("req_{prefix}_{i}"),
                org_id: "org_a".into(),
                user_id: "user_a".into(),
                key_id: Some("key_1".into()),
                model: "m".into(),
                input_tokens: 3,
                output_tokens: 4,
                estimated: i % 2 == 1,
            })
            .collect(),
        key_uses: vec![("key_1".into(), at)],
    }
}

pub async fn call_groups_and_transactions_share_one_chain(store: Store, _db: TestDatabase) {
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&key("key_1", "org_a", "user_a"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Call groups (on SQLite through the audit writer's own connection)
    // race state changes that append their records in a transaction.
    let groups = {
        let store = store.clone();
        tokio::spawn(async move {
            for g in 0..20 {
                let mut batch = calls(&format!("g{g}"), 1 + g % 4, 1_000 + g as i64);
                store.commit_calls(&mut batch).await.unwrap();
                assert!(
                    batch
                        .entries
                        .iter()
                        .all(|e| e.seq > 0 && !e.hash.is_empty())
                );
            }
        })
    };
    for t in 0..20 {
        let mut tx = store.begin().await.unwrap();
        tx.append_audit(entries(&format!("t{t}"), 2)).await.unwrap();
        tx.commit().await.unwrap();
    }
    groups.await.unwrap();

    let in_groups: usize = (0..20).map(|g| 1 + g % 4).sum();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.checked, (in_groups + 40) as i64);
    let usage = || async {
        let totals = store
            .usage_totals(&UsageQuery {
                group_by: UsageGroup::Key,
                ..UsageQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(totals.len(), 1);
        (totals[0].requests, totals[0].total_tokens)
    };
    let last_used = || async {
        let key = store.get_api_key("key_1").await.unwrap().unwrap();
        key.last_used_at
    };
    assert_eq!(usage().await, (in_groups as i64, 7 * in_groups as i64));
    assert_eq!(last_used().await, Some(1_019));

    // A group that fails (a record id already stored) writes nothing and
    // comes back whole, to be tried again.
    let mut failing = calls("g0", 2, 5_000);
    failing.entries[1].id = "fresh".into();
    failing.usage[0].id = "usage_fresh".into();
    assert!(store.commit_calls(&mut failing).await.is_err());
    assert_eq!(failing.entries.len(), 2);
    assert_eq!(failing.usage.len(), 2);
    assert_eq!(failing.key_uses, vec![("key_1".to_owned(), 5_000)]);
    assert_eq!(store.audit_seq_of("fresh", None).await.unwrap(), None);
    assert_eq!(usage().await.0, in_groups as i64);
    assert_eq!(last_used().await, Some(1_019));
    failing.entries[0].id = "fresh_too".into();
    failing.usage[1].id = "usage_fresh_too".into();
    store.commit_calls(&mut failing).await.unwrap();
    assert!(store.verify_audit_chain().await.unwrap().valid);
    assert_eq!(usage().await.0, in_groups as i64 + 2);
    assert_eq!(last_used().await, Some(5_000));

    // A closed store takes no more groups.
    store.close().await;
    let mut late = calls("late", 1, 6_000);
    assert!(store.commit_calls(&mut late).await.is_err());
    assert_eq!(late.entries.len(), 1);
}
