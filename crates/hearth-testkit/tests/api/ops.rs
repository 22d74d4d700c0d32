//! Operations endpoints: health and readiness probes without a key, and
//! Prometheus metrics for requests, latency, rate limiting and the audit
//! buffer.

use crate::{me, org_with};
use hearth_testkit::TestServer;
use reqwest::Method;
use serde_json::json;

hearth_testkit::backend_tests! {
    probes_answer_without_a_key,
    metrics_cover_requests_latency_limits_and_the_audit_buffer,
}

async fn probes_answer_without_a_key(server: TestServer) {
    let health = server
        .send(server.client().get(server.url("/healthz")))
        .await;
    assert_eq!(health.expect_status(200)["status"], "ok");
    health.request_id();

    let ready = server
        .send(server.client().get(server.url("/readyz")))
        .await;
    let body = ready.expect_status(200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["audit_writer"], "ok");
    ready.request_id();

    // A bad key does not matter to a probe.
    let health = server
        .send(server.request(Method::GET, "/healthz", "hk-garbage"))
        .await;
    health.expect_status(200);
}

/// The value of the first sample of `metric` whose labels include every
/// one of `labels` (each written `name="value"`).
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics_text(server: &TestServer) -> String {
    let resp = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    resp.text().await.unwrap()
}

async fn metrics_cover_requests_latency_limits_and_the_audit_buffer(server: TestServer) {
    me(&server, &server.admin_key).await.expect_status(200);
    server
        .send(server.admin(Method::GET, "/v1/no-such-thing-4711"))
        .await
        .expect_error(404, "not_found_error");
    let before = metrics_text(&server).await;
    let limited_before =
        sample(&before, "hearth_rate_limited_total", &["kind=\"requests\""]).unwrap_or(0.0);

    let (org, member) = org_with(&server, "member").await;
    server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/orgs/{org}"))
                .json(&json!({"requests_per_minute": 1})),
        )
        .await
        .expect_status(200);
    me(&server, &member.key).await.expect_status(200);
    me(&server, &member.key)
        .await
        .expect_error(429, "rate_limit_error");

    let text = metrics_text(&server).await;
    let ok = sample(
        &text,
        "hearth_http_requests_total",
        &["route=\"/v1/me\"", "status=\"200\""],
    );
    assert!(
        ok.is_some_and(|n| n >= 1.0),
        "requests by route and status:\n{text}"
    );
    let limited = sample(
        &text,
        "hearth_http_requests_total",
        &["route=\"/v1/me\"", "status=\"429\""],
    );
    assert!(limited.is_some_and(|n| n >= 1.0), "{text}");
    let created = sample(
        &text,
        "hearth_http_requests_total",
        &["route=\"/v1/admin/orgs/{id}\"", "status=\"200\""],
    );
    assert!(
        created.is_some_and(|n| n >= 1.0),
        "routes are labelled by template:\n{text}"
    );
    assert!(
        !text.contains("no-such-thing-4711"),
        "unknown paths must not become label values"
    );
    let not_found = sample(&text, "hearth_http_requests_total", &["status=\"404\""]);
    assert!(not_found.is_some_and(|n| n >= 1.0), "{text}");

    let bucket = sample(
        &text,
        "hearth_http_request_duration_seconds_bucket",
        &["route=\"/v1/me\"", "le=\"+Inf\""],
    );
    assert!(
        bucket.is_some_and(|n| n >= 1.0),
        "latency histogram:\n{text}"
    );
    assert!(
        sample(
            &text,
            "hearth_http_request_duration_seconds_bucket",
            &["le=\"0.005\""]
        )
        .is_some()
    );
    assert!(
        sample(
            &text,
            "hearth_http_request_duration_seconds_count",
            &["route=\"/v1/me\""]
        )
        .is_some()
    );
    assert!(
        sample(
            &text,
            "hearth_http_request_duration_seconds_sum",
            &["route=\"/v1/me\""]
        )
        .is_some()
    );

    let limited_after =
        sample(&text, "hearth_rate_limited_total", &["kind=\"requests\""]).unwrap_or(0.0);
    assert!(
        limited_after >= limited_before + 1.0,
        "{limited_before} -> {limited_after}"
    );

    let depth = sample(&text, "hearth_audit_buffer_depth", &[]);
    assert!(
        depth.is_some_and(|d| d >= 0.0),
        "audit buffer depth:\n{text}"
    );
}
