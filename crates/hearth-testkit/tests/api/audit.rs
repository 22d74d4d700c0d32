//! The audit log: every call recorded (rejected ones too), state changes
//! with their action records, filters, pagination, access rules and the
//! hash chain's verification.

use crate::{audit_page, audit_records, me, now_secs, org_with, uuid_like};
use hearth_testkit::TestServer;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

hearth_testkit::backend_tests! {
    every_call_is_recorded_with_its_details,
    rejected_calls_are_recorded,
    state_changes_have_action_records_of_their_call,
    filters_select_records,
    pages_follow_the_cursor_without_gaps_or_repeats,
    access_is_scoped_to_the_organisation,
    the_chain_verifies,
}

fn find<'a>(records: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["request_id"] == request_id)
        .collect()
}

async fn every_call_is_recorded_with_its_details(server: TestServer) {
    let user = server.user("member", None).await;
    let org_id = me(&server, &server.admin_key).await.body["org_id"].clone();
    let before = now_secs();
    let rid = format!("rec-{}", uuid_like());
    let reply = server
        .send(
            server
                .request(Method::GET, "/v1/me?x=1", &user.key)
                .header("x-request-id", &rid)
                .header("user-agent", "hearth-tests/1.0 (audit)"),
        )
        .await;
    reply.expect_status(200);

    let records = audit_records(&server, &format!("user_id={}", user.id)).await;
    let found = find(&records, &rid);
    assert_eq!(found.len(), 1, "{records:?}");
    let r = found[0];
    let created = r["created_at"].as_i64().unwrap();
    assert!(created >= before && created <= now_secs(), "{r}");
    assert_eq!(r["org_id"], org_id);
    assert_eq!(r["user_id"], user.id.as_str());
    let prefix = r["key_prefix"].as_str().unwrap();
    assert!(
        user.key.starts_with(prefix) && prefix.len() < user.key.len(),
        "{r}"
    );
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], "/v1/me");
    assert_eq!(r["status"], 200);
    assert!(r["latency_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["client_addr"], "127.0.0.1");
    assert_eq!(r["user_agent"], "hearth-tests/1.0 (audit)");
    assert!(r["action"].is_null());
    assert!(!r["hash"].as_str().unwrap().is_empty());
    assert!(
        !r.to_string().contains(&user.key),
        "the secret is never recorded"
    );
}

async fn rejected_calls_are_recorded(server: TestServer) {
    let user = server.user("viewer", None).await;
    let rid_401 = format!("unauth-{}", uuid_like());
    server
        .send(
            server
                .request(
                    Method::GET,
                    "/v1/admin/users",
                    "hk-not-a-real-key-at-all-000000000000",
                )
                .header("x-request-id", &rid_401)
                .header("user-agent", "intruder/0.1"),
        )
        .await
        .expect_unauthorized();
    let rid_missing = format!("nokey-{}", uuid_like());
    server
        .send(
            server
                .client()
                .get(server.url("/v1/me"))
                .header("x-request-id", &rid_missing),
        )
        .await
        .expect_unauthorized();
    let rid_403 = format!("forbidden-{}", uuid_like());
    server
        .send(
            server
                .request(Method::GET, "/v1/admin/users", &user.key)
                .header("x-request-id", &rid_403),
        )
        .await
        .expect_error(403, "permission_error");
    let rid_404 = format!("lost-{}", uuid_like());
    server
        .send(
            server
                .request(Method::GET, "/v1/lost", &user.key)
                .header("x-request-id", &rid_404),
        )
        .await
        .expect_error(404, "not_found_error");
    let rid_400 = format!("bad-{}", uuid_like());
    server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json")
                .header("x-request-id", &rid_400)
                .body("{"),
        )
        .await
        .expect_error(400, "invalid_request_error");

    // Unauthenticated calls belong to no organisation: the instance owner
    // sees them across all of them.
    let unauth = audit_records(&server, "org_id=all&status=401").await;
    for (rid, path, ua) in [
        (&rid_401, "/v1/admin/users", Some("intruder/0.1")),
        (&rid_missing, "/v1/me", None),
    ] {
        let found = find(&unauth, rid);
        assert_eq!(found.len(), 1, "{rid} in {unauth:?}");
        let r = found[0];
        assert!(
            r["org_id"].is_null() && r["user_id"].is_null() && r["key_prefix"].is_null(),
            "{r}"
        );
        assert_eq!(r["status"], 401);
        assert_eq!(r["path"], path);
        assert_eq!(r["client_addr"], "127.0.0.1");
        assert_eq!(r["user_agent"].as_str(), ua);
    }
    let mine = audit_records(&server, &format!("user_id={}", user.id)).await;
    for (rid, status) in [(&rid_403, 403), (&rid_404, 404)] {
        let found = find(&mine, rid);
        assert_eq!(found.len(), 1, "{rid}");
        assert_eq!(found[0]["status"], status);
        assert_eq!(found[0]["user_id"], user.id.as_str());
    }
    let bad = audit_records(&server, "status=400").await;
    assert_eq!(find(&bad, &rid_400).len(), 1);
}

/// Makes a change as the instance owner with a fresh request id; returns
/// the id and the response body.
async fn change(
    server: &TestServer,
    method: Method,
    path: String,
    body: Option<Value>,
) -> (String, Value) {
    let rid = format!("change-{}", uuid_like());
    let mut req = server.admin(method, &path).header("x-request-id", &rid);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let reply = server.send(req).await;
    assert_eq!(reply.request_id(), rid);
    assert!(reply.status < 300, "{path}: {}", reply.body);
    (rid, reply.body)
}

async fn state_changes_have_action_records_of_their_call(server: TestServer) {
    let owner_id = me(&server, &server.admin_key).await.body["user_id"].clone();
    let (rid_org, org) = change(
        &server,
        Method::POST,
        "/v1/admin/orgs".into(),
        Some(json!({"name": "audited"})),
    )
    .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (rid_user, user) = change(
        &server,
        Method::POST,
        "/v1/admin/users".into(),
        Some(json!({"email": "audited@example.com", "role": "member", "org_id": org_id})),
    )
    .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (rid_key, key) = change(
        &server,
        Method::POST,
        "/v1/admin/api-keys".into(),
        Some(json!({"user_id": user_id})),
    )
    .await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    let (rid_user_update, _) = change(
        &server,
        Method::PATCH,
        format!("/v1/admin/users/{user_id}"),
        Some(json!({"role": "viewer"})),
    )
    .await;
    let (rid_key_update, _) = change(
        &server,
        Method::PATCH,
        format!("/v1/admin/api-keys/{key_id}"),
        Some(json!({"requests_per_minute": 100})),
    )
    .await;
    let (rid_org_update, _) = change(
        &server,
        Method::PATCH,
        format!("/v1/admin/orgs/{org_id}"),
        Some(json!({"requests_per_minute": 50})),
    )
    .await;
    let (rid_revoke, _) = change(
        &server,
        Method::DELETE,
        format!("/v1/admin/api-keys/{key_id}"),
        None,
    )
    .await;

    for (action, rid, resource) in [
        ("org.create", &rid_org, &org_id),
        ("user.create", &rid_user, &user_id),
        ("api_key.create", &rid_key, &key_id),
        ("user.update", &rid_user_update, &user_id),
        ("api_key.update", &rid_key_update, &key_id),
        ("org.update", &rid_org_update, &org_id),
        ("api_key.revoke", &rid_revoke, &key_id),
    ] {
        let records = audit_records(&server, &format!("org_id={org_id}&action={action}")).await;
        assert_eq!(records.len(), 1, "{action}: {records:?}");
        let r = &records[0];
        assert_eq!(r["request_id"], rid.as_str(), "{action}");
        assert_eq!(r["resource_id"], resource.as_str(), "{action}");
        assert_eq!(r["user_id"], owner_id, "{action}: the actor");
        assert_eq!(r["org_id"], org_id.as_str(), "{action}");
        // The call itself is recorded too, under the same request id.
        let calls = audit_records(&server, "limit=100").await;
        let of_call = find(&calls, rid);
        assert!(
            of_call
                .iter()
                .any(|c| c["action"].is_null() && c["status"].as_i64().unwrap() < 300),
            "{action}: call record of {rid} in {of_call:?}"
        );
    }
    // A refused change leaves no action record.
    let rid = format!("refused-{}", uuid_like());
    server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/orgs/{org_id}"))
                .header("x-request-id", &rid)
                .json(&json!({"requests_per_minute": -5})),
        )
        .await
        .expect_error(400, "invalid_request_error");
    let updates = audit_records(&server, &format!("org_id={org_id}&action=org.update")).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
}

async fn filters_select_records(server: TestServer) {
    let start = now_secs();
    let member = server.user("member", None).await;
    let other = server.user("member", None).await;
    for _ in 0..3 {
        me(&server, &member.key).await.expect_status(200);
    }
    me(&server, &other.key).await.expect_status(200);
    server
        .send(server.request(Method::GET, "/v1/admin/users", &member.key))
        .await
        .expect_error(403, "permission_error");

    let by_user = audit_records(&server, &format!("user_id={}", member.id)).await;
    assert_eq!(by_user.len(), 4, "{by_user:?}");
    assert!(by_user.iter().all(|r| r["user_id"] == member.id.as_str()));

    let by_prefix = audit_records(
        &server,
        &format!("key_prefix={}", member.key.get(..11).unwrap()),
    )
    .await;
    assert!(
        by_prefix.iter().all(|r| r["user_id"] == member.id.as_str()) && by_prefix.len() == 4,
        "{by_prefix:?}"
    );

    let forbidden = audit_records(&server, "status=403").await;
    assert_eq!(forbidden.len(), 1, "{forbidden:?}");
    assert_eq!(forbidden[0]["user_id"], member.id.as_str());

    // Methods match case-insensitively.
    for method in ["POST", "post"] {
        let posts = audit_records(&server, &format!("method={method}&limit=100")).await;
        assert!(!posts.is_empty());
        assert!(posts.iter().all(|r| r["method"] == "POST"), "{posts:?}");
    }

    let me_calls = audit_records(&server, "path_prefix=/v1/me&limit=100").await;
    assert!(
        me_calls.len() >= 4 && me_calls.iter().all(|r| r["path"] == "/v1/me"),
        "{me_calls:?}"
    );
    let admin_calls = audit_records(&server, "path_prefix=/v1/admin/&limit=100").await;
    assert!(
        !admin_calls.is_empty()
            && admin_calls
                .iter()
                .all(|r| r["path"].as_str().unwrap().starts_with("/v1/admin/"))
    );

    let creates = audit_records(&server, "action=user.create").await;
    let created: BTreeSet<&str> = creates
        .iter()
        .map(|r| r["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        created,
        BTreeSet::from([member.id.as_str(), other.id.as_str()])
    );

    // Time bounds: since is inclusive, until exclusive, in Unix seconds.
    let recent = audit_records(&server, &format!("since={start}&user_id={}", member.id)).await;
    assert_eq!(recent.len(), 4);
    let future = audit_records(&server, &format!("since={}", now_secs() + 3600)).await;
    assert!(future.is_empty(), "{future:?}");
    let old = audit_records(&server, &format!("until={start}&user_id={}", member.id)).await;
    assert!(old.is_empty(), "{old:?}");
    let window = audit_records(
        &server,
        &format!(
            "since={start}&until={}&user_id={}",
            now_secs() + 1,
            member.id
        ),
    )
    .await;
    assert_eq!(window.len(), 4);

    // Filters combine.
    let combined = audit_records(&server, &format!("user_id={}&status=200", member.id)).await;
    assert_eq!(combined.len(), 3);

    // Bad filter values are named.
    let reply = server
        .send(server.admin(Method::GET, "/v1/admin/audit-logs?status=abc"))
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request_error")["param"],
        "status"
    );
    let reply = server
        .send(server.admin(Method::GET, "/v1/admin/audit-logs?after=nope"))
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request_error")["param"],
        "after"
    );
}

async fn pages_follow_the_cursor_without_gaps_or_repeats(server: TestServer) {
    let member = server.user("member", None).await;
    for _ in 0..7 {
        me(&server, &member.key).await.expect_status(200);
    }
    let everything = audit_records(&server, "limit=100").await;
    assert!(everything.len() >= 10, "{}", everything.len());
    let seqs: Vec<i64> = everything
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    let newest = everything[0]["id"].as_str().unwrap();

    // Page through what existed before the walk started.
    let mut walked = Vec::new();
    let mut page = audit_page(&server, &format!("limit=3&after={newest}")).await;
    walked.push(newest.to_owned());
    loop {
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        assert_eq!(
            page["first_id"],
            data.first().map_or(Value::Null, |r| r["id"].clone())
        );
        assert_eq!(
            page["last_id"],
            data.last().map_or(Value::Null, |r| r["id"].clone())
        );
        walked.extend(data.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        let last = page["last_id"].as_str().unwrap().to_owned();
        page = audit_page(&server, &format!("limit=3&after={last}")).await;
        assert!(walked.len() < 500, "pagination does not end");
    }
    let expected: Vec<String> = everything
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(walked, expected);
}

async fn access_is_scoped_to_the_organisation(server: TestServer) {
    let org_a_member = server.user("member", None).await;
    me(&server, &org_a_member.key).await.expect_status(200);
    let (org_b, admin_b) = org_with(&server, "admin").await;
    let member_b = server.user("member", Some(&org_b)).await;
    me(&server, &member_b.key).await.expect_status(200);

    for key in [&org_a_member.key, &member_b.key] {
        server
            .send(server.request(Method::GET, "/v1/admin/audit-logs", key))
            .await
            .expect_error(403, "permission_error");
    }

    let reply = server
        .send(server.request(Method::GET, "/v1/admin/audit-logs?limit=100", &admin_b.key))
        .await;
    let records = reply.expect_status(200)["data"].as_array().unwrap().clone();
    assert!(!records.is_empty());
    assert!(
        records.iter().all(|r| r["org_id"] == org_b.as_str()),
        "{records:?}"
    );
    assert!(records.iter().any(|r| r["user_id"] == member_b.id.as_str()));
    assert!(
        !records
            .iter()
            .any(|r| r["user_id"] == org_a_member.id.as_str())
    );
    // Filtering for someone of org A finds nothing rather than their records.
    let reply = server
        .send(server.request(
            Method::GET,
            &format!("/v1/admin/audit-logs?user_id={}", org_a_member.id),
            &admin_b.key,
        ))
        .await;
    assert_eq!(reply.expect_status(200)["data"], json!([]));
    for query in ["org_id=all", "status=401&org_id=all"] {
        let reply = server
            .send(server.request(
                Method::GET,
                &format!("/v1/admin/audit-logs?{query}"),
                &admin_b.key,
            ))
            .await;
        reply.expect_error(404, "not_found_error");
    }
    server
        .send(server.request(Method::GET, "/v1/admin/audit-logs/verify", &admin_b.key))
        .await
        .expect_error(403, "permission_error");
    let owner_b = server.user("owner", Some(&org_b)).await;
    server
        .send(server.request(Method::GET, "/v1/admin/audit-logs/verify", &owner_b.key))
        .await
        .expect_error(403, "permission_error");
}

async fn the_chain_verifies(server: TestServer) {
    let member = server.user("member", None).await;
    for _ in 0..5 {
        me(&server, &member.key).await.expect_status(200);
    }
    server
        .send(server.client().get(server.url("/v1/me")))
        .await
        .expect_unauthorized();
    let mut count = 0;
    let mut page = audit_page(&server, "org_id=all&limit=100").await;
    loop {
        count += page["data"].as_array().unwrap().len();
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        page = audit_page(
            &server,
            &format!(
                "org_id=all&limit=100&after={}",
                page["last_id"].as_str().unwrap()
            ),
        )
        .await;
    }
    let reply = server
        .send(server.admin(Method::GET, "/v1/admin/audit-logs/verify"))
        .await;
    let report = reply.expect_status(200);
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["first_broken_seq"].is_null());
    let checked = usize::try_from(report["checked"].as_i64().unwrap()).unwrap();
    assert!(checked >= count, "checked {checked} of {count} records");
    assert!(
        report["last_hash"].as_str().is_some_and(|h| h.len() == 64),
        "{report}"
    );
}
