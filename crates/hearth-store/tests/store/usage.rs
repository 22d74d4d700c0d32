//! Usage records and organisation model allow-lists.

use crate::org;
use hearth_store::Store;
use hearth_store::testing::TestDatabase;
use hearth_types::usage::{UsageGroup, UsageQuery, UsageRecord};

fn record(
    n: u32,
    org_id: &str,
    user: &str,
    key: Option<&str>,
    model: &str,
    at: i64,
) -> UsageRecord {
    UsageRecord {
        id: format!("usage_{n:04}"),
        created_at: at,
        request_id: format!("req_{n}"),
        org_id: org_id.into(),
        user_id: user.into(),
        key_id: key.map(Into::into),
        model: model.into(),
        input_tokens: 10,
        output_tokens: 5,
        estimated: n.is_multiple_of(2),
    }
}

const DAY: i64 = 86_400_000;

pub async fn usage_sums_by_every_grouping(store: Store, _db: TestDatabase) {
    let t0 = 1_700_000_000_000 / DAY * DAY;
    let records = vec![
        record(1, "org_a", "u1", Some("k1"), "gpt", t0),
        record(2, "org_a", "u1", Some("k1"), "gpt", t0 + 1),
        record(3, "org_a", "u2", None, "claude", t0 + DAY),
        record(4, "org_b", "u3", Some("k3"), "gpt", t0),
    ];
    store.record_usage(&records).await.unwrap();
    store.record_usage(&[]).await.unwrap();

    let by = |group_by, org: Option<&str>| UsageQuery {
        org_id: org.map(Into::into),
        group_by,
        ..UsageQuery::default()
    };
    let models = store
        .usage_totals(&by(UsageGroup::Model, Some("org_a")))
        .await
        .unwrap();
    let summary: Vec<_> = models
        .iter()
        .map(|t| (t.group.as_str(), t.requests, t.total_tokens))
        .collect();
    assert_eq!(summary, vec![("gpt", 2, 30), ("claude", 1, 15)]);

    let users = store
        .usage_totals(&by(UsageGroup::User, Some("org_a")))
        .await
        .unwrap();
    assert_eq!(
        users.iter().map(|t| t.group.as_str()).collect::<Vec<_>>(),
        vec!["u1", "u2"]
    );

    let keys = store
        .usage_totals(&by(UsageGroup::Key, Some("org_a")))
        .await
        .unwrap();
    assert_eq!(
        keys.iter().map(|t| t.group.as_str()).collect::<Vec<_>>(),
        vec!["k1", ""]
    );

    let days = store
        .usage_totals(&by(UsageGroup::Day, Some("org_a")))
        .await
        .unwrap();
    let day_groups: Vec<_> = days
        .iter()
        .map(|t| (t.group.clone(), t.input_tokens))
        .collect();
    assert_eq!(
        day_groups,
        vec![
            ((t0 / 1000).to_string(), 20),
            (((t0 + DAY) / 1000).to_string(), 10)
        ]
    );

    let all = store
        .usage_totals(&by(UsageGroup::Model, None))
        .await
        .unwrap();
    assert_eq!(all.iter().find(|t| t.group == "gpt").unwrap().requests, 3);

    let window = UsageQuery {
        org_id: Some("org_a".into()),
        since: Some(t0 + 1),
        until: Some(t0 + DAY),
        ..UsageQuery::default()
    };
    let windowed = store.usage_totals(&window).await.unwrap();
    assert_eq!(windowed.len(), 1);
    assert_eq!(windowed[0].requests, 1);
}

pub async fn org_allow_lists_round_trip(store: Store, _db: TestDatabase) {
    let mut o = org("org_m", "Models");
    let mut tx = store.begin().await.unwrap();
    tx.insert_org(&o).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_org("org_m").await.unwrap().unwrap(), o);

    o.allowed_models = None;
    let mut tx = store.begin().await.unwrap();
    tx.update_org(&o).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .get_org("org_m")
            .await
            .unwrap()
            .unwrap()
            .allowed_models,
        None
    );
}
