//! Transport behaviour: resets, hangs, delays, and connections closing
//! when the client goes away.

use super::{client, eventually};
use crate::fake::{FakeAnthropic, FakeOpenAi, Reply};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

const SETTLE: Duration = Duration::from_secs(5);

/// Whether the error was caused by a TCP reset (not a timeout, not an
/// orderly close).
fn is_connection_reset(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        source = e.source();
    }
    false
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::Reset);
    let started = Instant::now();
    let err = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat(false))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_err();
    assert!(is_connection_reset(&err), "not a TCP reset: {err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.requests().len(), 1, "recorded before the reset");
    eventually(SETTLE, "the reset connection is closed", || {
        fake.open_connections() == 0
    })
    .await;

    // The next request is served normally.
    let resp = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn hang_holds_until_the_client_gives_up() {
    let fake = FakeAnthropic::start().await;
    fake.enqueue(Reply::Hang);
    let started = Instant::now();
    let body = json!({"model": "claude", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]});
    let err = client()
        .post(format!("{}/v1/messages", fake.base_url()))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .timeout(Duration::from_millis(400))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(fake.requests().len(), 1);
    eventually(SETTLE, "the abandoned connection is closed", || {
        fake.open_connections() == 0
    })
    .await;
}

#[tokio::test]
async fn dropping_the_fake_ends_a_hang() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::Hang);
    let url = format!("{}/chat/completions", fake.base_url());
    let request = tokio::spawn(async move { client().post(url).json(&chat(false)).send().await });
    eventually(SETTLE, "the request arrived", || fake.requests().len() == 1).await;
    drop(fake);
    let outcome = tokio::time::timeout(SETTLE, request)
        .await
        .expect("the client is released")
        .unwrap();
    assert!(outcome.is_err());
}

#[tokio::test]
async fn first_byte_and_chunk_delays_are_applied() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::text("a b c").first_byte_delay(Duration::from_millis(300)));
    let started = Instant::now();
    let resp = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // role, 3 deltas, finish, [DONE]: five pauses.
    fake.enqueue(Reply::text("a b c").chunk_delay(Duration::from_millis(60)));
    let started = Instant::now();
    let mut resp = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "the first chunk is not delayed"
    );
    while resp.chunk().await.unwrap().is_some() {}
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_client_dropping_a_stream_midway_closes_the_connection() {
    let fake = FakeOpenAi::start().await;
    let long_text = "word ".repeat(40);
    // 40 deltas 200 ms apart: about 8 s if the fake kept writing.
    fake.enqueue(Reply::text(long_text).chunk_delay(Duration::from_millis(200)));
    let started = Instant::now();
    let mut resp = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    resp.chunk().await.unwrap().unwrap();
    resp.chunk().await.unwrap().unwrap();
    assert_eq!(fake.open_connections(), 1);
    drop(resp);
    eventually(SETTLE, "the fake closed the abandoned stream", || {
        fake.open_connections() == 0
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed mid-stream, not at the end"
    );
}
