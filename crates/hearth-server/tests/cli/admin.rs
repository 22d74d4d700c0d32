//! `hearth users|keys|orgs|audit` on the data directory, beside a running
//! server and with the server stopped.

use crate::support::{Hearth, OWNER_KEY, audit_entries, me, me_until, stderr};
use serde_json::Value;

fn array(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {value}"))
}

#[tokio::test]
async fn cli_administration_beside_a_running_server() {
    let hearth = Hearth::new()
        .env("HEARTH_ADMIN_KEY", OWNER_KEY)
        .env("HEARTH__AUTH__CACHE_TTL_SECS", "1");
    let mut server = hearth.serve(&[]).await;

    // users create / list
    let user = hearth
        .run_json(&["users", "create", "--email", "a@x.io", "--role", "admin"])
        .await;
    let user_id = str_of(&user, "id").to_owned();
    assert_eq!(user["email"], "a@x.io");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["disabled"], false);
    let users = hearth.run_json(&["users", "list"]).await;
    let emails: Vec<&str> = array(&users).iter().map(|u| str_of(u, "email")).collect();
    assert!(emails.contains(&"a@x.io") && emails.len() == 2, "{users}");

    // keys create --user: works against the running server at once.
    let created = hearth
        .run_json(&["keys", "create", "--user", &user_id])
        .await;
    let key = str_of(&created, "key").to_owned();
    let key_id = str_of(&created, "id").to_owned();
    assert!(key.starts_with(str_of(&created, "prefix")), "{created}");
    let (status, body) = me(&server, &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], user_id.as_str());
    assert_eq!(body["role"], "admin");

    // keys create --email
    let second = hearth
        .run_json(&["keys", "create", "--email", "a@x.io", "--name", "second"])
        .await;
    let second_key = str_of(&second, "key").to_owned();
    let second_id = str_of(&second, "id").to_owned();
    assert_eq!(second["user_id"], user_id.as_str());
    assert_eq!(second["name"], "second");
    assert_eq!(me(&server, &second_key).await.0, 200);

    // keys list shows every key and no secret.
    let out = hearth.run(&["keys", "list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    for secret in [OWNER_KEY, key.as_str(), second_key.as_str()] {
        assert!(
            !listed.contains(secret),
            "keys list printed a secret:\n{listed}"
        );
    }
    let keys: Value = serde_json::from_str(&listed).expect("keys list JSON");
    assert_eq!(array(&keys).len(), 3, "{keys}");
    for k in array(&keys) {
        assert!(k.get("key").is_none() && k.get("hash").is_none(), "{k}");
        assert!(!str_of(k, "prefix").is_empty());
    }
    let ids: Vec<&str> = array(&keys).iter().map(|k| str_of(k, "id")).collect();
    assert!(ids.contains(&key_id.as_str()) && ids.contains(&second_id.as_str()));

    // A demotion reaches the running server within the cache TTL.
    let demoted = hearth
        .run_json(&["users", "update", &user_id, "--role", "viewer"])
        .await;
    assert_eq!(demoted["role"], "viewer");
    me_until(&server, &key, "demotion to viewer", |status, body| {
        status == 200 && body["role"] == "viewer"
    })
    .await;
    // … and a viewer may not administer.
    let forbidden = crate::support::http()
        .get(server.url("/v1/admin/users"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("GET /v1/admin/users");
    assert_eq!(forbidden.status(), 403);

    // Revocation: the revoked key stops working, the other one does not.
    let revoked = hearth.run_json(&["keys", "revoke", &second_id]).await;
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    me_until(&server, &second_key, "revoked key", |status, _| {
        status == 401
    })
    .await;
    assert_eq!(me(&server, &key).await.0, 200);

    // Disabling the user stops all their keys.
    let disabled = hearth
        .run_json(&["users", "update", &user_id, "--disable"])
        .await;
    assert_eq!(disabled["disabled"], true);
    me_until(&server, &key, "disabled user", |status, body| {
        status == 401 && body["error"]["code"] == "user_disabled"
    })
    .await;
    let enabled = hearth
        .run_json(&["users", "update", &user_id, "--enable"])
        .await;
    assert_eq!(enabled["disabled"], false);
    me_until(&server, &key, "re-enabled user", |status, _| status == 200).await;

    // orgs create / list
    let org = hearth.run_json(&["orgs", "create", "acme"]).await;
    let org_id = str_of(&org, "id").to_owned();
    assert_eq!(org["name"], "acme");
    let orgs = hearth.run_json(&["orgs", "list"]).await;
    let names: Vec<&str> = array(&orgs).iter().map(|o| str_of(o, "name")).collect();
    assert!(names.contains(&"acme") && names.len() == 2, "{orgs}");
    let acme_user = hearth
        .run_json(&["users", "create", "--email", "b@acme.io", "--org", &org_id])
        .await;
    assert_eq!(acme_user["org_id"], org_id.as_str());
    assert_eq!(acme_user["role"], "member");
    let acme_users = hearth.run_json(&["users", "list", "--org", &org_id]).await;
    assert_eq!(array(&acme_users).len(), 1, "{acme_users}");

    // Each CLI change is audited, as the operator, in its own transaction.
    let cli_entries = audit_entries(&server, OWNER_KEY, "org_id=all&method=CLI").await;
    let actions: Vec<&str> = cli_entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "user.create",
        "api_key.create",
        "user.update",
        "api_key.revoke",
        "org.create",
    ] {
        assert!(actions.contains(&action), "no {action} in {actions:?}");
    }

    let report = hearth.run_json(&["audit", "verify"]).await;
    assert_eq!(report["valid"], true, "{report}");
    assert!(
        report["checked"].as_i64().expect("checked") > 10,
        "{report}"
    );
    server.stop("TERM").await;
}

#[tokio::test]
async fn cli_administration_with_the_server_stopped() {
    // Before any server ran: the CLI bootstraps the empty database too.
    let hearth = Hearth::new().env("HEARTH_ADMIN_KEY", OWNER_KEY);
    let user = hearth
        .run_json(&["users", "create", "--email", "Ops@X.io", "--role", "member"])
        .await;
    let user_id = str_of(&user, "id").to_owned();
    assert!(hearth.dir().join("hearth-data/hearth.db").is_file());
    let kept = hearth
        .run_json(&["keys", "create", "--email", "ops@x.io"])
        .await;
    let dropped = hearth
        .run_json(&["keys", "create", "--user", &user_id])
        .await;
    hearth
        .run_json(&["keys", "revoke", str_of(&dropped, "id")])
        .await;

    let mut server = hearth.serve(&[]).await;
    let (status, body) = me(&server, str_of(&kept, "key")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], user_id.as_str());
    assert_eq!(body["role"], "member");
    let (status, body) = me(&server, str_of(&dropped, "key")).await;
    assert_eq!(status, 401, "a key revoked before the start: {body}");
    server.stop("TERM").await;

    // Revoked with the server stopped: refused by the next start.
    hearth
        .run_json(&["keys", "revoke", str_of(&kept, "id")])
        .await;
    let mut again = hearth.serve(&[]).await;
    assert_eq!(me(&again, str_of(&kept, "key")).await.0, 401);
    assert_eq!(me(&again, OWNER_KEY).await.0, 200);
    again.stop("TERM").await;

    let out = hearth.run(&["audit", "verify"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["valid"], true);
}

#[tokio::test]
async fn cli_bad_input_fails_with_a_clear_message() {
    let hearth = Hearth::new()
        .env("HEARTH_ADMIN_KEY", OWNER_KEY)
        .env("RUST_BACKTRACE", "1");
    let user = hearth
        .run_json(&["users", "create", "--email", "c@x.io"])
        .await;
    let user_id = str_of(&user, "id").to_owned();

    // (args, what stderr must mention); `run_err` also rules out panics.
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["users", "create", "--email", "d@x.io", "--role", "boss"],
            &["boss", "viewer"],
        ),
        (&["users", "update", &user_id, "--role", "root"], &["root"]),
        (
            &[
                "users",
                "update",
                "user_0000000000000000",
                "--role",
                "viewer",
            ],
            &["user_0000000000000000", "not found"],
        ),
        (
            &["users", "update", &user_id, "--disable", "--enable"],
            &["--disable", "--enable"],
        ),
        (&["users", "create", "--email", "c@x.io"], &["c@x.io"]),
        (
            &["users", "create", "--email", "e@x.io", "--org", "org_nope"],
            &["org"],
        ),
        (
            &["keys", "create", "--user", "user_0000000000000000"],
            &["user_0000000000000000"],
        ),
        (
            &["keys", "create", "--email", "nobody@x.io"],
            &["nobody@x.io"],
        ),
        (&["keys", "create"], &["--user"]),
        (
            &["keys", "revoke", "key_0000000000000000"],
            &["key_0000000000000000"],
        ),
        (&["orgs", "create"], &["NAME"]),
        (&["nonsense"], &["nonsense"]),
    ];
    for (args, mentions) in cases {
        let stderr = hearth.run_err(args).await;
        for needle in *mentions {
            assert!(
                stderr.to_lowercase().contains(&needle.to_lowercase()),
                "`hearth {}`: stderr does not mention {needle:?}:\n{stderr}",
                args.join(" ")
            );
        }
        assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    }

    // Nothing above changed anything.
    let users = hearth.run_json(&["users", "list"]).await;
    assert_eq!(array(&users).len(), 2, "{users}");
    let only = &array(&users)
        .iter()
        .find(|u| u["id"] == user_id.as_str())
        .expect("c@x.io")["role"];
    assert_eq!(only, "member");
}
