//! The error envelope and statuses: bad JSON, wrong and missing fields,
//! content types, unknown routes and methods, conflicts, and request ids.

use hearth_testkit::TestServer;
use reqwest::Method;
use serde_json::json;

hearth_testkit::backend_tests! {
    malformed_json_is_400_invalid_json,
    wrong_missing_and_unknown_fields_are_named,
    bad_query_parameters_are_named,
    non_json_content_type_is_415,
    unknown_route_is_404_with_the_envelope,
    wrong_method_is_405_with_the_envelope,
    duplicate_email_is_409,
    request_ids_are_echoed_when_valid_and_replaced_otherwise,
}

fn post_users(server: &TestServer, body: &'static str) -> reqwest::RequestBuilder {
    server
        .admin(Method::POST, "/v1/admin/users")
        .header("content-type", "application/json")
        .body(body)
}

async fn malformed_json_is_400_invalid_json(server: TestServer) {
    for body in [
        "{not json",
        "",
        "{\"email\":\"a@b.c\",\"role\":\"member\"} trailing",
        r#"{"email": "a@b.c","#,
    ] {
        let reply = server.send(post_users(&server, body)).await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["code"], "invalid_json", "{body:?}: {error}");
    }
}

async fn wrong_missing_and_unknown_fields_are_named(server: TestServer) {
    let cases = [
        (r#"{"email": 5, "role": "member"}"#, "email"),
        (r#"{"email": "a@b.c", "role": "wizard"}"#, "role"),
        (r#"{"role": "member"}"#, "email"),
        (r#"{"email": "a@b.c"}"#, "role"),
        (
            r#"{"email": "a@b.c", "role": "member", "nickname": "x"}"#,
            "nickname",
        ),
        (
            r#"{"email": "a@b.c", "role": "member", "org_id": 7}"#,
            "org_id",
        ),
    ];
    for (body, field) in cases {
        let reply = server.send(post_users(&server, body)).await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["param"], field, "{body}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{body}: {error}"
        );
    }

    // On a PATCH too, and for a value the engine rejects.
    let user = server.user("member", None).await;
    let reply = server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/users/{}", user.id))
                .json(&json!({"disabled": "yes"})),
        )
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request_error")["param"],
        "disabled"
    );
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .json(&json!({"email": "not-an-email", "role": "member"})),
        )
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request_error")["param"],
        "email"
    );
    // Nothing was created by any of the refused calls.
    let list = server
        .send(server.admin(Method::GET, "/v1/admin/users?limit=100"))
        .await;
    let emails: Vec<&str> = list.expect_status(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert!(!emails.contains(&"a@b.c"), "{emails:?}");
}

async fn bad_query_parameters_are_named(server: TestServer) {
    for (query, param) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("bogus=1", "bogus"),
    ] {
        let reply = server
            .send(server.admin(Method::GET, &format!("/v1/admin/users?{query}")))
            .await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["param"], param, "{query}: {error}");
    }
}

async fn non_json_content_type_is_415(server: TestServer) {
    let body = r#"{"email": "ok@example.com", "role": "member"}"#;
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "text/plain")
                .body(body),
        )
        .await;
    reply.expect_error(415, "invalid_request_error");
    let reply = server
        .send(server.admin(Method::POST, "/v1/admin/users").body(body))
        .await;
    reply.expect_error(415, "invalid_request_error");
    // The same body with the right type is fine: the 415 was about the type.
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json; charset=utf-8")
                .body(body),
        )
        .await;
    reply.expect_status(201);
}

async fn unknown_route_is_404_with_the_envelope(server: TestServer) {
    for path in ["/v1/nope", "/v1/admin/nope", "/", "/v2/admin/users"] {
        let reply = server.send(server.admin(Method::GET, path)).await;
        reply.expect_error(404, "not_found_error");
    }
    // An unknown id on a known route is a 404 in the same envelope.
    let reply = server
        .send(server.admin(Method::GET, "/v1/admin/users/user_doesnotexist"))
        .await;
    assert_eq!(
        reply.expect_error(404, "not_found_error")["code"],
        "not_found"
    );
}

async fn wrong_method_is_405_with_the_envelope(server: TestServer) {
    let user = server.user("member", None).await;
    let user_path = format!("/v1/admin/users/{}", user.id);
    for (method, path) in [
        (Method::PUT, "/v1/admin/users"),
        (Method::DELETE, "/v1/admin/users"),
        (Method::DELETE, user_path.as_str()),
        (Method::POST, "/v1/me"),
        (Method::POST, "/v1/admin/audit-logs"),
    ] {
        let reply = server.send(server.admin(method.clone(), path)).await;
        let error = reply.expect_error(405, "invalid_request_error");
        assert_eq!(error["code"], "method_not_allowed", "{method} {path}");
    }
    // The user was not deleted by the refused DELETE.
    server
        .send(server.admin(Method::GET, &user_path))
        .await
        .expect_status(200);
}

async fn duplicate_email_is_409(server: TestServer) {
    let create = |email: &str, org: Option<&str>| {
        let mut body = json!({"email": email, "role": "member"});
        if let Some(org) = org {
            body["org_id"] = json!(org);
        }
        server.admin(Method::POST, "/v1/admin/users").json(&body)
    };
    server
        .send(create("dup@example.com", None))
        .await
        .expect_status(201);
    let reply = server.send(create("dup@example.com", None)).await;
    assert_eq!(
        reply.expect_error(409, "invalid_request_error")["code"],
        "conflict"
    );
    // Emails are compared case-insensitively.
    server
        .send(create(" Dup@Example.COM ", None))
        .await
        .expect_error(409, "invalid_request_error");
    // The same address in another organisation is another user.
    let other = server.org("dup-other").await;
    server
        .send(create("dup@example.com", Some(&other)))
        .await
        .expect_status(201);
}

async fn request_ids_are_echoed_when_valid_and_replaced_otherwise(server: TestServer) {
    let with_id =
        |req: reqwest::RequestBuilder, id: &str| req.header("x-request-id", id.to_owned());
    let valid = "client-req_42.a:b";
    // Success, 401, 404, 405 and 400 all echo a valid id.
    let requests = [
        server.admin(Method::GET, "/v1/me"),
        server.client().get(server.url("/v1/me")),
        server.admin(Method::GET, "/v1/nope"),
        server.admin(Method::PUT, "/v1/admin/users"),
        server
            .admin(Method::POST, "/v1/admin/users")
            .header("content-type", "application/json")
            .body("{"),
    ];
    for req in requests {
        let reply = server.send(with_id(req, valid)).await;
        assert_eq!(reply.request_id(), valid, "status {}", reply.status);
    }

    let longest = "a".repeat(128);
    let reply = server
        .send(with_id(server.admin(Method::GET, "/v1/me"), &longest))
        .await;
    assert_eq!(reply.request_id(), longest);

    let too_long = "a".repeat(129);
    for bad in [
        "has spaces in it",
        too_long.as_str(),
        "semi;colon",
        "quote\"d",
    ] {
        for req in [
            server.admin(Method::GET, "/v1/me"),
            server.client().get(server.url("/v1/me")),
        ] {
            let reply = server.send(with_id(req, bad)).await;
            let id = reply.request_id();
            assert_ne!(id, bad);
            assert!(!id.contains(' ') && id.len() <= 128, "{id}");
        }
    }

    // Without one, every response gets a fresh id.
    let a = server.send(server.admin(Method::GET, "/v1/me")).await;
    let b = server.send(server.admin(Method::GET, "/v1/me")).await;
    assert_ne!(a.request_id(), b.request_id());
}
