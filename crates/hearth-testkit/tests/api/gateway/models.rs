//! `GET /v1/models` and `GET /v1/models/{id}`: the OpenAI list format,
//! aliases, organisation allow-lists, and a server with no model at all.

use super::{ANTHROPIC_MODEL, Gw, OPENAI_ALIAS, OPENAI_MODEL, chat_body};
use crate::org_with;
use hearth_testkit::gateway::{ANTHROPIC_PROVIDER, OPENAI_PROVIDER};
use hearth_testkit::{Backend, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {list}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_in_openai_format() {
    let gw = Gw::sqlite().await;
    let member = gw.server.user("member", None).await;
    let reply = gw.get("/v1/models", &member.key).await;
    let list = reply.expect_status(200);
    assert_eq!(list["object"], "list");
    // Configured models in order; aliases are not listed as models.
    assert_eq!(ids(list), [OPENAI_MODEL, ANTHROPIC_MODEL], "{list}");
    for (model, owner) in list["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip([OPENAI_PROVIDER, ANTHROPIC_PROVIDER])
    {
        let mut keys: Vec<&str> = model
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["created", "id", "object", "owned_by"], "{model}");
        assert_eq!(model["object"], "model");
        assert!(model["created"].is_i64(), "{model}");
        assert_eq!(model["owned_by"], owner);
    }
    // Listing asks no upstream.
    assert!(gw.openai.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_model_by_id_or_alias() {
    let gw = Gw::sqlite().await;
    let reply = gw
        .get(&format!("/v1/models/{OPENAI_MODEL}"), gw.admin_key())
        .await;
    let model = reply.expect_status(200);
    assert_eq!(model["id"], OPENAI_MODEL);
    assert_eq!(model["object"], "model");
    assert_eq!(model["owned_by"], OPENAI_PROVIDER);

    let reply = gw
        .get(&format!("/v1/models/{OPENAI_ALIAS}"), gw.admin_key())
        .await;
    assert_eq!(
        reply.expect_status(200)["id"],
        OPENAI_MODEL,
        "an alias resolves to its model"
    );

    let reply = gw
        .get(&format!("/v1/models/{ANTHROPIC_MODEL}"), gw.admin_key())
        .await;
    assert_eq!(reply.expect_status(200)["owned_by"], ANTHROPIC_PROVIDER);

    let reply = gw.get("/v1/models/gpt-nonexistent", gw.admin_key()).await;
    let error = reply.expect_error(404, "invalid_request_error");
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_limits_what_an_organisation_sees_and_uses() {
    let gw = Gw::sqlite().await;
    let (org, member) = org_with(&gw.server, "member").await;
    let (_, other) = org_with(&gw.server, "member").await;
    let org_view = gw
        .patch_org(&org, json!({"allowed_models": [OPENAI_MODEL]}))
        .await;
    assert_eq!(org_view["allowed_models"], json!([OPENAI_MODEL]));

    let reply = gw.get("/v1/models", &member.key).await;
    assert_eq!(ids(reply.expect_status(200)), [OPENAI_MODEL]);
    let reply = gw
        .get(&format!("/v1/models/{ANTHROPIC_MODEL}"), &member.key)
        .await;
    let error = reply.expect_error(404, "invalid_request_error");
    assert_eq!(error["code"], "model_not_found");

    // A model the organisation may not use looks exactly like one that
    // does not exist.
    let forbidden = gw
        .post(
            "/v1/chat/completions",
            &member.key,
            &chat_body(ANTHROPIC_MODEL),
        )
        .await;
    let unknown = gw
        .post(
            "/v1/chat/completions",
            &member.key,
            &chat_body("no-such-model"),
        )
        .await;
    for reply in [&forbidden, &unknown] {
        let error = reply.expect_error(404, "invalid_request_error");
        assert_eq!(error["code"], "model_not_found");
        assert_eq!(error["param"], "model");
    }
    assert_eq!(
        forbidden.body["message"]
            .as_str()
            .unwrap()
            .replace(ANTHROPIC_MODEL, "X"),
        unknown.body["message"]
            .as_str()
            .unwrap()
            .replace("no-such-model", "X"),
    );
    assert!(gw.anthropic.requests().is_empty(), "no upstream call");

    // The allowed model works, by id and by alias.
    for model in [OPENAI_MODEL, OPENAI_ALIAS] {
        gw.post("/v1/chat/completions", &member.key, &chat_body(model))
            .await
            .expect_status(200);
    }

    // Other organisations keep every model.
    let reply = gw.get("/v1/models", &other.key).await;
    assert_eq!(
        ids(reply.expect_status(200)),
        [OPENAI_MODEL, ANTHROPIC_MODEL]
    );
    gw.post(
        "/v1/chat/completions",
        &other.key,
        &chat_body(ANTHROPIC_MODEL),
    )
    .await
    .expect_status(200);

    // Lifting the list gives the organisation every model again.
    gw.patch_org(&org, json!({"allowed_models": null})).await;
    let reply = gw.get("/v1/models", &member.key).await;
    assert_eq!(
        ids(reply.expect_status(200)),
        [OPENAI_MODEL, ANTHROPIC_MODEL]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_providers_the_model_endpoints_say_how_to_add_one() {
    // The test server's default config has no provider and no model.
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let replies = [
        server.send(server.admin(Method::GET, "/v1/models")).await,
        server
            .send(server.admin(Method::GET, "/v1/models/gpt-4o"))
            .await,
        server
            .send(
                server
                    .admin(Method::POST, "/v1/chat/completions")
                    .json(&chat_body("gpt-4o")),
            )
            .await,
    ];
    for reply in &replies {
        let error = reply.expect_error(503, "server_error");
        assert_eq!(error["code"], "no_models_configured", "{}", reply.body);
        let message = error["message"].as_str().unwrap();
        for hint in [
            "[[providers]]",
            "[[models]]",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
        ] {
            assert!(message.contains(hint), "{message:?} lacks {hint}");
        }
    }
    // The rest of the server works.
    server
        .send(server.admin(Method::GET, "/v1/me"))
        .await
        .expect_status(200);
}
