//! The admin API and RBAC: organisations, users and keys; who may manage
//! whom; and the isolation of organisations (other orgs' ids are 404).

use crate::{me, new_key, org_with};
use hearth_testkit::{Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

hearth_testkit::backend_tests! {
    only_the_instance_owner_creates_orgs,
    users_are_created_listed_paged_and_changed,
    members_and_viewers_are_forbidden_every_admin_route,
    admins_manage_members_but_not_owners,
    instance_owner_cannot_be_disabled_or_demoted,
    keys_show_their_secret_once,
    other_orgs_resources_are_not_found,
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn only_the_instance_owner_creates_orgs(server: TestServer) {
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/orgs")
                .json(&json!({"name": "Acme"})),
        )
        .await;
    let org = reply.expect_status(201).clone();
    let org_id = org["id"].as_str().unwrap();
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["object"], "organization");

    let list = server
        .send(server.admin(Method::GET, "/v1/admin/orgs"))
        .await;
    assert!(ids(list.expect_status(200)).contains(&org_id.to_owned()));
    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/orgs/{org_id}")))
        .await;
    assert_eq!(got.expect_status(200)["name"], "Acme");

    // Names are unique.
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/orgs")
                .json(&json!({"name": "Acme"})),
        )
        .await;
    reply.expect_error(409, "invalid_request_error");

    // Owners and admins of an organisation (this one or the default) may not.
    let acme_owner = server.user("owner", Some(org_id)).await;
    let default_admin = server.user("admin", None).await;
    let default_owner = server.user("owner", None).await;
    for key in [&acme_owner.key, &default_admin.key, &default_owner.key] {
        let reply = server
            .send(
                server
                    .request(Method::POST, "/v1/admin/orgs", key)
                    .json(&json!({"name": "Rogue"})),
            )
            .await;
        reply.expect_error(403, "permission_error");
    }
    // An org owner sees only their own organisation.
    let list = server
        .send(server.request(Method::GET, "/v1/admin/orgs", &acme_owner.key))
        .await;
    assert_eq!(ids(list.expect_status(200)), [org_id]);
    let names: Vec<Value> = server
        .send(server.admin(Method::GET, "/v1/admin/orgs"))
        .await
        .expect_status(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert!(!names.contains(&json!("Rogue")), "{names:?}");
}

async fn users_are_created_listed_paged_and_changed(server: TestServer) {
    let other_org = server.org("other").await;
    let mut own = BTreeSet::new();
    own.insert(
        me(&server, &server.admin_key).await.body["user_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    for (i, role) in ["owner", "admin", "member", "viewer", "member"]
        .into_iter()
        .enumerate()
    {
        let reply = server
            .send(
                server
                    .admin(Method::POST, "/v1/admin/users")
                    .json(&json!({"email": format!("u{i}@example.com"), "role": role})),
            )
            .await;
        let user = reply.expect_status(201);
        assert_eq!(user["role"], role);
        assert_eq!(user["disabled"], false);
        assert_eq!(user["email"], format!("u{i}@example.com"));
        own.insert(user["id"].as_str().unwrap().to_owned());
    }
    let mut theirs = BTreeSet::new();
    for role in ["admin", "viewer"] {
        let reply = server
            .send(server.admin(Method::POST, "/v1/admin/users").json(
                &json!({"email": format!("{role}@other.example"), "role": role, "org_id": other_org}),
            ))
            .await;
        let user = reply.expect_status(201);
        assert_eq!(user["org_id"], other_org.as_str());
        theirs.insert(user["id"].as_str().unwrap().to_owned());
    }

    // Walk the caller's organisation two at a time.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/v1/admin/users?limit=2".to_owned(),
            Some(a) => format!("/v1/admin/users?limit=2&after={a}"),
        };
        let page = server.send(server.admin(Method::GET, &path)).await;
        let page = page.expect_status(200).clone();
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 2);
        assert_eq!(page["object"], "list");
        assert_eq!(
            page["first_id"].as_str(),
            page_ids.first().map(String::as_str)
        );
        assert_eq!(
            page["last_id"].as_str(),
            page_ids.last().map(String::as_str)
        );
        seen.extend(page_ids);
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        after = Some(page["last_id"].as_str().unwrap().to_owned());
        assert!(seen.len() < 50, "pagination does not end");
    }
    let seen_set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), seen_set.len(), "no user on two pages");
    assert_eq!(seen_set, own);
    // A page past the end is empty.
    let past = server
        .send(server.admin(
            Method::GET,
            &format!("/v1/admin/users?after={}", seen.last().unwrap()),
        ))
        .await;
    let past = past.expect_status(200);
    assert_eq!(past["data"], json!([]));
    assert_eq!(past["has_more"], false);
    assert!(past["first_id"].is_null());

    // The instance owner lists another organisation by id.
    let page = server
        .send(server.admin(Method::GET, &format!("/v1/admin/users?org_id={other_org}")))
        .await;
    let listed: BTreeSet<String> = ids(page.expect_status(200)).into_iter().collect();
    assert_eq!(listed, theirs);

    // Get and patch.
    let id = own.iter().find(|id| !id.is_empty()).unwrap();
    let target = theirs.iter().next().unwrap();
    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/users/{target}")))
        .await;
    assert_eq!(got.expect_status(200)["id"], target.as_str());
    let patched = server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/users/{target}"))
                .json(&json!({"role": "member", "disabled": true})),
        )
        .await;
    let patched = patched.expect_status(200);
    assert_eq!(
        (patched["role"].as_str(), patched["disabled"].as_bool()),
        (Some("member"), Some(true))
    );
    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/users/{target}")))
        .await;
    assert_eq!(got.expect_status(200)["role"], "member");
    assert_eq!(got.body["disabled"], true);
    assert!(!id.is_empty());
}

async fn members_and_viewers_are_forbidden_every_admin_route(server: TestServer) {
    let victim = server.user("member", None).await;
    let org_id = me(&server, &server.admin_key).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for role in ["member", "viewer"] {
        let user = server.user(role, None).await;
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, "/v1/admin/orgs".into(), None),
            (
                Method::POST,
                "/v1/admin/orgs".into(),
                Some(json!({"name": format!("by-{role}")})),
            ),
            (Method::GET, format!("/v1/admin/orgs/{org_id}"), None),
            (
                Method::PATCH,
                format!("/v1/admin/orgs/{org_id}"),
                Some(json!({"requests_per_minute": 1})),
            ),
            (Method::GET, "/v1/admin/users".into(), None),
            (
                Method::POST,
                "/v1/admin/users".into(),
                Some(json!({"email": format!("{role}-made@example.com"), "role": "admin"})),
            ),
            (Method::GET, format!("/v1/admin/users/{}", user.id), None),
            (
                Method::PATCH,
                format!("/v1/admin/users/{}", user.id),
                Some(json!({"role": "admin"})),
            ),
            (
                Method::PATCH,
                format!("/v1/admin/users/{}", victim.id),
                Some(json!({"disabled": true})),
            ),
            (Method::GET, "/v1/admin/api-keys".into(), None),
            (
                Method::POST,
                "/v1/admin/api-keys".into(),
                Some(json!({"user_id": user.id})),
            ),
            (
                Method::GET,
                format!("/v1/admin/api-keys/{}", user.key_id),
                None,
            ),
            (
                Method::PATCH,
                format!("/v1/admin/api-keys/{}", user.key_id),
                Some(json!({"name": "mine"})),
            ),
            (
                Method::DELETE,
                format!("/v1/admin/api-keys/{}", victim.key_id),
                None,
            ),
            (Method::GET, "/v1/admin/audit-logs".into(), None),
            (Method::GET, "/v1/admin/audit-logs/verify".into(), None),
        ];
        for (method, path, body) in routes {
            let mut req = server.request(method.clone(), &path, &user.key);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let reply = server.send(req).await;
            assert_eq!(reply.status, 403, "{role} {method} {path}: {}", reply.body);
            reply.expect_error(403, "permission_error");
        }
        // They are still who they were, and can use the non-admin API.
        assert_eq!(
            me(&server, &user.key).await.expect_status(200)["role"],
            role
        );
    }
    // Nothing changed: the victim's key works, the org has no limit.
    me(&server, &victim.key).await.expect_status(200);
    let org = server
        .send(server.admin(Method::GET, &format!("/v1/admin/orgs/{org_id}")))
        .await;
    assert!(org.expect_status(200)["requests_per_minute"].is_null());
}

async fn admins_manage_members_but_not_owners(server: TestServer) {
    let admin = server.user("admin", None).await;
    let owner = server.user("owner", None).await;
    let instance_owner = me(&server, &server.admin_key).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let as_admin = |method: Method, path: &str, body: Value| {
        server.request(method, path, &admin.key).json(&body)
    };

    let mut member_id = String::new();
    for (i, role) in ["member", "viewer", "admin"].into_iter().enumerate() {
        let reply = server
            .send(as_admin(
                Method::POST,
                "/v1/admin/users",
                json!({"email": format!("made{i}@example.com"), "role": role}),
            ))
            .await;
        let user = reply.expect_status(201);
        if role == "member" {
            member_id = user["id"].as_str().unwrap().to_owned();
        }
    }
    let reply = server
        .send(as_admin(
            Method::POST,
            "/v1/admin/users",
            json!({"email": "boss@example.com", "role": "owner"}),
        ))
        .await;
    reply.expect_error(403, "permission_error");

    // Owners (including the instance owner) are out of an admin's reach.
    for target in [&owner.id, &instance_owner] {
        for body in [json!({"disabled": true}), json!({"role": "member"})] {
            let reply = server
                .send(as_admin(
                    Method::PATCH,
                    &format!("/v1/admin/users/{target}"),
                    body,
                ))
                .await;
            reply.expect_error(403, "permission_error");
        }
        let reply = server
            .send(as_admin(
                Method::POST,
                "/v1/admin/api-keys",
                json!({"user_id": target}),
            ))
            .await;
        reply.expect_error(403, "permission_error");
    }
    let reply = server
        .send(server.request(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", owner.key_id),
            &admin.key,
        ))
        .await;
    reply.expect_error(403, "permission_error");
    let reply = server
        .send(as_admin(
            Method::PATCH,
            &format!("/v1/admin/api-keys/{}", owner.key_id),
            json!({"requests_per_minute": 1}),
        ))
        .await;
    reply.expect_error(403, "permission_error");
    me(&server, &owner.key).await.expect_status(200);

    // Members are theirs to manage, but not to promote to owner.
    let member_path = format!("/v1/admin/users/{member_id}");
    let reply = server
        .send(as_admin(
            Method::PATCH,
            &member_path,
            json!({"role": "owner"}),
        ))
        .await;
    reply.expect_error(403, "permission_error");
    let reply = server
        .send(as_admin(
            Method::PATCH,
            &member_path,
            json!({"role": "viewer", "disabled": true}),
        ))
        .await;
    let body = reply.expect_status(200);
    assert_eq!(
        (body["role"].as_str(), body["disabled"].as_bool()),
        (Some("viewer"), Some(true))
    );
    server
        .send(as_admin(
            Method::PATCH,
            &member_path,
            json!({"disabled": false}),
        ))
        .await
        .expect_status(200);
    let reply = server
        .send(as_admin(
            Method::POST,
            "/v1/admin/api-keys",
            json!({"user_id": member_id, "name": "by admin"}),
        ))
        .await;
    let key = reply.expect_status(201).clone();
    let secret = key["key"].as_str().unwrap();
    assert_eq!(
        me(&server, secret).await.expect_status(200)["role"],
        "viewer"
    );
    let reply = server
        .send(server.request(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", key["id"].as_str().unwrap()),
            &admin.key,
        ))
        .await;
    reply.expect_status(200);
    me(&server, secret).await.expect_unauthorized();
}

async fn instance_owner_cannot_be_disabled_or_demoted(server: TestServer) {
    let owner_id = me(&server, &server.admin_key).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_owner = server.user("owner", None).await;
    let path = format!("/v1/admin/users/{owner_id}");
    for key in [&server.admin_key, &other_owner.key] {
        let reply = server
            .send(
                server
                    .request(Method::PATCH, &path, key)
                    .json(&json!({"disabled": true})),
            )
            .await;
        assert_eq!(
            reply.expect_error(400, "invalid_request_error")["param"],
            "disabled"
        );
        let reply = server
            .send(
                server
                    .request(Method::PATCH, &path, key)
                    .json(&json!({"role": "admin"})),
            )
            .await;
        assert_eq!(
            reply.expect_error(400, "invalid_request_error")["param"],
            "role"
        );
    }
    let got = server.send(server.admin(Method::GET, &path)).await;
    let got = got.expect_status(200);
    assert_eq!(
        (got["role"].as_str(), got["disabled"].as_bool()),
        (Some("owner"), Some(false))
    );
    server
        .send(
            server
                .admin(Method::POST, "/v1/admin/orgs")
                .json(&json!({"name": "still-owner"})),
        )
        .await
        .expect_status(201);

    // Any other owner can be demoted.
    let reply = server
        .send(
            server
                .admin(
                    Method::PATCH,
                    &format!("/v1/admin/users/{}", other_owner.id),
                )
                .json(&json!({"role": "admin"})),
        )
        .await;
    assert_eq!(reply.expect_status(200)["role"], "admin");
}

async fn keys_show_their_secret_once(server: TestServer) {
    let user = server.user("member", None).await;
    let other = server.user("member", None).await;
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/api-keys")
                .json(&json!({"user_id": user.id, "name": "ci"})),
        )
        .await;
    let created = reply.expect_status(201).clone();
    let secret = created["key"].as_str().unwrap();
    let prefix = created["prefix"].as_str().unwrap();
    let key_id = created["id"].as_str().unwrap();
    assert_eq!(created["object"], "api_key");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["user_id"], user.id.as_str());
    assert!(
        secret.starts_with(prefix) && prefix.len() >= 4,
        "{prefix} / {secret}"
    );
    assert!(
        secret.len() >= prefix.len() + 22,
        "at least 128 bits beyond the prefix"
    );
    assert_ne!(secret, user.key);
    me(&server, secret).await.expect_status(200);

    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/api-keys/{key_id}")))
        .await;
    let got = got.expect_status(200);
    assert!(got.get("key").is_none(), "GET shows no secret: {got}");
    assert_eq!(got["prefix"], prefix);

    let listed = server
        .send(server.admin(
            Method::GET,
            &format!("/v1/admin/api-keys?user_id={}", user.id),
        ))
        .await;
    let listed = listed.expect_status(200).clone();
    let listed_ids: BTreeSet<String> = ids(&listed).into_iter().collect();
    assert_eq!(
        listed_ids,
        BTreeSet::from([user.key_id.clone(), key_id.to_owned()])
    );
    let text = listed.to_string();
    assert!(
        !text.contains(secret) && !text.contains(&user.key),
        "a secret in a listing"
    );
    for key in listed["data"].as_array().unwrap() {
        assert!(key.get("key").is_none(), "{key}");
        assert_eq!(key["user_id"], user.id.as_str());
    }

    // Unfiltered, the listing pages through every key of the organisation.
    let mut all = Vec::new();
    let mut path = "/v1/admin/api-keys?limit=1".to_owned();
    loop {
        let page = server.send(server.admin(Method::GET, &path)).await;
        let page = page.expect_status(200).clone();
        all.extend(ids(&page));
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        path = format!(
            "/v1/admin/api-keys?limit=1&after={}",
            page["last_id"].as_str().unwrap()
        );
    }
    for id in [&user.key_id, &other.key_id, &key_id.to_owned()] {
        assert!(all.contains(id), "{id} not listed in {all:?}");
    }
    assert!(
        !server
            .send(server.admin(Method::GET, "/v1/admin/api-keys?limit=100"))
            .await
            .body
            .to_string()
            .contains(secret)
    );

    // Use is recorded: after the audit buffer is flushed, last_used_at is set.
    crate::audit_records(&server, "limit=1").await;
    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/api-keys/{key_id}")))
        .await;
    assert!(
        got.expect_status(200)["last_used_at"].as_i64().is_some(),
        "{}",
        got.body
    );
}

async fn other_orgs_resources_are_not_found(server: TestServer) {
    // Org A is the default organisation; org B has its own admin and owner.
    let org_a = me(&server, &server.admin_key).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_a = server.user("member", Some(&org_a)).await;
    let (org_b, admin_b) = org_with(&server, "admin").await;
    let owner_b = server.user("owner", Some(&org_b)).await;
    let member_b = server.user("member", Some(&org_b)).await;

    let missing = |reply: &Reply| reply.expect_error(404, "not_found_error").clone();
    for key in [&admin_b.key, &owner_b.key] {
        let call = |method: Method, path: String, body: Option<Value>| {
            let mut req = server.request(method, &path, key);
            if let Some(body) = body {
                req = req.json(&body);
            }
            server.send(req)
        };
        // An existing id of org A and an id that exists nowhere answer alike.
        let real =
            missing(&call(Method::GET, format!("/v1/admin/users/{}", user_a.id), None).await);
        let fake =
            missing(&call(Method::GET, "/v1/admin/users/user_0000nothing".into(), None).await);
        assert_eq!(real, fake);
        missing(
            &call(
                Method::PATCH,
                format!("/v1/admin/users/{}", user_a.id),
                Some(json!({"disabled": true})),
            )
            .await,
        );
        let real = missing(
            &call(
                Method::GET,
                format!("/v1/admin/api-keys/{}", user_a.key_id),
                None,
            )
            .await,
        );
        let fake = missing(
            &call(
                Method::GET,
                "/v1/admin/api-keys/key_0000nothing".into(),
                None,
            )
            .await,
        );
        assert_eq!(real, fake);
        missing(
            &call(
                Method::PATCH,
                format!("/v1/admin/api-keys/{}", user_a.key_id),
                Some(json!({"requests_per_minute": 1})),
            )
            .await,
        );
        missing(
            &call(
                Method::DELETE,
                format!("/v1/admin/api-keys/{}", user_a.key_id),
                None,
            )
            .await,
        );
        missing(&call(Method::GET, format!("/v1/admin/orgs/{org_a}"), None).await);
        missing(
            &call(
                Method::PATCH,
                format!("/v1/admin/orgs/{org_a}"),
                Some(json!({"requests_per_minute": 1})),
            )
            .await,
        );
        missing(&call(Method::GET, format!("/v1/admin/users?org_id={org_a}"), None).await);
        missing(
            &call(
                Method::GET,
                format!("/v1/admin/api-keys?org_id={org_a}"),
                None,
            )
            .await,
        );
        missing(
            &call(
                Method::GET,
                format!("/v1/admin/audit-logs?org_id={org_a}"),
                None,
            )
            .await,
        );
        missing(
            &call(
                Method::POST,
                "/v1/admin/users".into(),
                Some(json!({"email": "x@a.example", "role": "member", "org_id": org_a})),
            )
            .await,
        );
        missing(
            &call(
                Method::POST,
                "/v1/admin/api-keys".into(),
                Some(json!({"user_id": user_a.id})),
            )
            .await,
        );
        // Their own organisation works.
        call(
            Method::GET,
            format!("/v1/admin/users/{}", member_b.id),
            None,
        )
        .await
        .expect_status(200);
        call(Method::GET, format!("/v1/admin/orgs/{org_b}"), None)
            .await
            .expect_status(200);
    }

    // Nothing in org A changed.
    me(&server, &user_a.key).await.expect_status(200);
    let got = server
        .send(server.admin(Method::GET, &format!("/v1/admin/users/{}", user_a.id)))
        .await;
    assert_eq!(got.expect_status(200)["disabled"], false);
    let org = server
        .send(server.admin(Method::GET, &format!("/v1/admin/orgs/{org_a}")))
        .await;
    assert!(org.expect_status(200)["requests_per_minute"].is_null());
    let users_a = server
        .send(server.admin(Method::GET, "/v1/admin/users?limit=100"))
        .await;
    assert!(!users_a.body.to_string().contains("x@a.example"));

    // The instance owner reaches into org B.
    for path in [
        format!("/v1/admin/users/{}", member_b.id),
        format!("/v1/admin/api-keys/{}", member_b.key_id),
        format!("/v1/admin/orgs/{org_b}"),
        format!("/v1/admin/users?org_id={org_b}"),
        format!("/v1/admin/api-keys?org_id={org_b}"),
        format!("/v1/admin/audit-logs?org_id={org_b}"),
    ] {
        server
            .send(server.admin(Method::GET, &path))
            .await
            .expect_status(200);
    }
    let reply = server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/users/{}", member_b.id))
                .json(&json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(reply.expect_status(200)["role"], "viewer");
    let (_, key) = new_key(&server, &member_b.id).await;
    assert_eq!(
        me(&server, &key).await.expect_status(200)["org_id"],
        org_b.as_str()
    );
}
