//! Logs and metrics set-up.

use crate::config::LogFormat;
use axum::http::Method;
use hearth_engine::metric_handles::Handles;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::io::IsTerminal as _;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber: `RUST_LOG` filters (default `info`), text
/// or JSON lines on stderr (coloured only on a terminal). Safe to call more than once.
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal: escape codes in a file,
    // journald or a container log are noise.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("hearth_http_request_duration_seconds".to_owned()),
                    &[
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("hearth_audit_batch_size".to_owned()),
                        &[
                            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                        ],
                    )
                });
            match builder {
                Ok(builder) => {
                    let recorder = builder.build_recorder();
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!("a metrics recorder was already installed");
                    }
                    handle
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics buckets rejected; using summaries");
                    PrometheusBuilder::new()
                        .install_recorder()
                        .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle())
                }
            }
        })
        .clone()
}

/// A finished call's labels: route, method and status.
type HttpLabels = (String, Method, u16);

thread_local! {
    /// The request metrics by their labels.
    static HTTP_HANDLES: RefCell<Handles<HttpLabels, (Counter, Histogram)>> =
        const { RefCell::new(Handles::new()) };
}

/// Counts a finished API call (`hearth_http_requests_total`) and records
/// its duration (`hearth_http_request_duration_seconds`).
pub fn record_http(route: &str, method: &Method, status: u16, elapsed: Duration) {
    HTTP_HANDLES.with_borrow_mut(|handles| {
        handles.with(
            |(r, m, s)| *s == status && m == method && r == route,
            || {
                let requests = metrics::counter!(
                    "hearth_http_requests_total",
                    "route" => route.to_owned(),
                    "method" => method.as_str().to_owned(),
                    "status" => status.to_string(),
                );
                let duration = metrics::histogram!(
                    "hearth_http_request_duration_seconds",
                    "route" => route.to_owned(),
                    "method" => method.as_str().to_owned(),
                );
                (
                    (route.to_owned(), method.clone(), status),
                    (requests, duration),
                )
            },
            |(requests, duration)| {
                requests.increment(1);
                duration.record(elapsed.as_secs_f64());
            },
        );
    });
}
