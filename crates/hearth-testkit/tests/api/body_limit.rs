//! Request bodies over `max_body_bytes` get 413, whether the client
//! declares the length or streams the body in chunks without one.

use futures_util::stream;
use hearth_server::Config;
use hearth_testkit::TestServer;
use reqwest::{Body, Method};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const MAX_BODY: usize = 1024;

fn small_bodies(config: &mut Config) {
    config.max_body_bytes = MAX_BODY;
}

hearth_testkit::backend_tests! {
    config = small_bodies;
    declared_oversized_body_is_413,
    chunked_oversized_body_is_413,
    a_client_expecting_100_continue_gets_413_before_sending,
    bodies_within_the_limit_are_accepted,
}

/// A valid create-user body padded with whitespace to `len` bytes.
fn padded_user(len: usize) -> Vec<u8> {
    let mut body = json!({"email": format!("pad{len}@example.com"), "role": "member"})
        .to_string()
        .into_bytes();
    assert!(body.len() < len);
    body.resize(len, b' ');
    body
}

/// `body` streamed in 256-byte chunks, so no Content-Length is sent.
fn chunked(body: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(256).map(|c| Ok(c.to_vec())).collect();
    Body::wrap_stream(stream::iter(chunks))
}

async fn declared_oversized_body_is_413(server: TestServer) {
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json")
                .body(padded_user(MAX_BODY + 1)),
        )
        .await;
    assert_eq!(
        reply.expect_error(413, "invalid_request_error")["code"],
        "request_too_large"
    );

    // Refused from the declared length alone, before any key is checked.
    let reply = server
        .send(
            server
                .client()
                .post(server.url("/v1/admin/users"))
                .header("content-type", "application/json")
                .body(vec![b' '; 256 * MAX_BODY]),
        )
        .await;
    reply.expect_error(413, "invalid_request_error");

    // Nothing was created.
    let list = server
        .send(server.admin(Method::GET, "/v1/admin/users"))
        .await;
    assert_eq!(list.expect_status(200)["data"].as_array().unwrap().len(), 1);
}

async fn chunked_oversized_body_is_413(server: TestServer) {
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json")
                .body(chunked(padded_user(256 * MAX_BODY))),
        )
        .await;
    assert_eq!(
        reply.expect_error(413, "invalid_request_error")["code"],
        "request_too_large"
    );
    let list = server
        .send(server.admin(Method::GET, "/v1/admin/users"))
        .await;
    assert_eq!(list.expect_status(200)["data"].as_array().unwrap().len(), 1);
    // The server still serves normally.
    server
        .send(server.admin(Method::GET, "/v1/me"))
        .await
        .expect_status(200);
}

async fn bodies_within_the_limit_are_accepted(server: TestServer) {
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json")
                .body(padded_user(MAX_BODY)),
        )
        .await;
    reply.expect_status(201);
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/users")
                .header("content-type", "application/json")
                .body(chunked(padded_user(MAX_BODY - 1))),
        )
        .await;
    reply.expect_status(201);
}

async fn a_client_expecting_100_continue_gets_413_before_sending(server: TestServer) {
    // What curl does for large uploads: headers only, then wait for
    // `100 Continue` before sending the body. A 413 must come instead.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/admin/users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.addr,
        server.admin_key,
        64 * MAX_BODY
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    let response = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && serde_json::from_str::<Value>(body).is_ok()
            {
                break;
            }
        }
        String::from_utf8_lossy(&received).into_owned()
    })
    .await
    .expect("a response without sending the body");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("x-request-id:"),
        "{response}"
    );
    let body: Value = serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "request_too_large");
}
