//! Graceful shutdown on SIGTERM and SIGINT: exit 0 within seconds, with
//! the audit buffer flushed and in-flight requests finished.

use crate::support::{EXIT_TIMEOUT, Hearth, OWNER_KEY, audit_entries, http};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const CALLS: usize = 400;
/// Every this many calls presents a wrong key (rejected calls are
/// audited too).
const BAD_EVERY: usize = 10;

/// A burst of calls with the signal sent while it is still being
/// answered, then a restart: every call that got an answer (before the
/// signal or during the shutdown) is in the audit log, rejected ones too.
async fn calls_are_audited_after(signal: &str) {
    let hearth = Hearth::new()
        .env("HEARTH_ADMIN_KEY", OWNER_KEY)
        .env("HEARTH__LIMITS__REQUESTS_PER_MINUTE", "100000");
    let mut server = hearth.serve(&[]).await;
    let client = http();
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let key = if i % BAD_EVERY == 0 {
            format!("hk-not-a-key-{i:020}")
        } else {
            OWNER_KEY.to_owned()
        };
        let request_id = format!("burst-{signal}-{i}");
        let request = client
            .get(server.url("/v1/me"))
            .bearer_auth(key)
            .header("x-request-id", &request_id);
        let answered = answered_tx.clone();
        calls.spawn(async move {
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            let _ = answered.send(());
            (request_id, status)
        });
    }
    // Signal once a quarter of the burst is answered: the rest is in
    // flight, queued in the audit buffer, or refused.
    for _ in 0..CALLS / 4 {
        answered_rx.recv().await.expect("an answer");
    }
    server.stop(signal).await;
    let mut answered = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (request_id, status) = done.expect("task");
        if let Some(status) = status {
            assert!(status == 200 || status == 401, "{request_id}: {status}");
            answered.push((request_id, status));
        }
    }
    assert!(answered.len() >= CALLS / 4, "{} answered", answered.len());
    assert!(
        server.stderr().contains("shutdown requested"),
        "the signal was handled, not fatal:\n{}",
        server.stderr()
    );

    let mut again = hearth.serve(&[]).await;
    let entries = audit_entries(&again, OWNER_KEY, "org_id=all&path_prefix=/v1/me").await;
    let recorded: HashMap<&str, i64> = entries
        .iter()
        .filter_map(|e| Some((e["request_id"].as_str()?, e["status"].as_i64()?)))
        .collect();
    let missing: Vec<&str> = answered
        .iter()
        .filter(|(id, status)| recorded.get(id.as_str()) != Some(&i64::from(*status)))
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered calls are not in the audit log after SIG{signal}: {:?}…",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(answered.iter().any(|(_, status)| *status == 401));
    eprintln!("{} of {CALLS} calls answered and audited", answered.len());
    again.stop("TERM").await;

    let report = hearth.run_json(&["audit", "verify"]).await;
    assert_eq!(report["valid"], true, "{report}");
}

#[tokio::test]
async fn sigterm_exits_0_and_flushes_the_audit_log() {
    calls_are_audited_after("TERM").await;
}

#[tokio::test]
async fn sigint_exits_0_and_flushes_the_audit_log() {
    calls_are_audited_after("INT").await;
}

/// A request whose body is still arriving when SIGTERM comes: the server
/// stops accepting new connections but answers it, then exits 0.
#[tokio::test]
async fn an_in_flight_request_completes_after_sigterm() {
    let hearth = Hearth::new().env("HEARTH_ADMIN_KEY", OWNER_KEY);
    let mut server = hearth.serve(&[]).await;
    let body = br#"{"name":"late-org"}"#;
    let head = format!(
        "POST /v1/admin/orgs HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {OWNER_KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
        .write_all(&body[..5])
        .await
        .expect("write half the body");
    stream.flush().await.expect("flush");
    // Let the server read the head and start waiting for the body.
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.signal("TERM").await;
    server
        .wait_for_line("shutdown requested", EXIT_TIMEOUT)
        .await;
    // New connections are refused once shutdown has begun.
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while TcpStream::connect(server.addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stream
        .write_all(&body[5..])
        .await
        .expect("write the rest of the body");
    let mut response = Vec::new();
    tokio::time::timeout(EXIT_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("the in-flight response within the timeout")
        .expect("read response");
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request answered:\n{response}"
    );
    assert!(response.contains("late-org"), "{response}");

    let status = server.wait_exit().await;
    assert!(status.success(), "exit {status}:\n{}", server.stderr());

    let orgs = hearth.run_json(&["orgs", "list"]).await;
    assert!(
        orgs.as_array()
            .expect("array")
            .iter()
            .any(|o| o["name"] == "late-org"),
        "{orgs}"
    );
}
