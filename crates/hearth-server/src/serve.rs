//! Starting and stopping the server.
//!
//! Shutdown order matters: stop accepting, let in-flight requests finish
//! (bounded by the grace period), then drain the audit buffer (every
//! finished request has queued its record by then), then close the
//! database.

use crate::app::{AppState, router};
use crate::config::Config;
use crate::telemetry::metrics_handle;
use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use hearth_engine::admin::Bootstrapped;
use hearth_security::audit::{AuditOptions, spawn_writer};
use hearth_security::ratelimit::{Limiter, LocalLimiter};
use hearth_security::{AuthOptions, Authenticator};
use hearth_store::{Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A started server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Set when this start bootstrapped an empty database.
    pub bootstrapped: Option<Bootstrapped>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits for the server to stop (after its token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
    }

    /// Stops gracefully and waits until the audit buffer is flushed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Connects the store (migrating it), bootstraps an empty database, binds
/// the listener and starts serving in a background task.
pub async fn start(config: Config, admin_key: Option<String>) -> anyhow::Result<Running> {
    let store = Store::connect(&StoreOptions {
        url: config.database.url.clone(),
        max_connections: config.database.max_connections,
    })
    .await
    .context("cannot open the database")?;
    let auth = Authenticator::new(
        store.clone(),
        &AuthOptions {
            cache_ttl: config.auth_cache_ttl,
        },
    );
    let limiter = Arc::new(Limiter::Local(LocalLimiter::default()));
    let catalog = Arc::new(crate::app::catalog(&config)?);
    if catalog.is_empty() {
        tracing::warn!(
            "no models configured: add [[providers]] and [[models]] to the config, or set OPENAI_API_KEY or ANTHROPIC_API_KEY"
        );
    } else {
        let models: Vec<&str> = catalog.routes().iter().map(|r| r.id.as_str()).collect();
        tracing::info!(providers = config.gateway.providers.len(), models = ?models, "gateway ready");
    }
    let engine = crate::app::engine(&store, &auth, limiter.clone(), catalog.clone(), &config);
    let bootstrapped = engine
        .bootstrap(admin_key.as_deref())
        .await
        .context("bootstrap failed")?;

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;

    let writer_stop = CancellationToken::new();
    let (audit, writer) = spawn_writer(
        store.clone(),
        &AuditOptions {
            capacity: config.audit_capacity,
            max_batch: config.audit_max_batch,
            linger: config.audit_linger,
        },
        writer_stop.clone(),
    );
    let audit_writer_done = CancellationToken::new();
    let grace = config.shutdown_grace;
    let state = AppState {
        engine,
        auth,
        store: store.clone(),
        limiter,
        audit,
        config: Arc::new(config),
        metrics: metrics_handle(),
        audit_writer_done: audit_writer_done.clone(),
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let writer_task = tokio::spawn(async move {
        if let Err(error) = writer.await {
            tracing::error!(%error, "audit writer ended abnormally");
        }
        audit_writer_done.cancel();
    });

    let task = tokio::spawn(async move {
        let listener = listener.tap_io(|tcp| {
            // Without it a response written in two pieces waits on a
            // delayed ACK.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let server =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::select! {
            result = server => result.context("server error")?,
            () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; dropping open connections");
            }
        }
        writer_stop.cancel();
        writer_task.await.context("audit writer panicked")?;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    });
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        bootstrapped,
        shutdown,
        task,
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
