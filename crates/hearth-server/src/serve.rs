//! Starting and stopping the server.
//!
//! Shutdown order matters: stop accepting, let in-flight requests finish
//! (bounded by the grace period), then drain the audit buffer (every
//! finished request has queued its record by then), then close the
//! database.

use crate::app::{AppState, Services, router};
use crate::config::Config;
use crate::telemetry::metrics_handle;
use anyhow::Context as _;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::serve::ListenerExt as _;
use hearth_engine::admin::Bootstrapped;
use hearth_security::audit::spawn_writer;
use hearth_security::ratelimit::{Limiter, LocalLimiter};
use hearth_security::{AuthOptions, Authenticator};
use hearth_store::{Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
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

    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;

    let writer_stop = CancellationToken::new();
    let (audit, writer) = spawn_writer(store.clone(), &config.audit, writer_stop.clone());
    let audit_writer_done = CancellationToken::new();
    let grace = config.shutdown_grace;
    let worker_count = config.workers;
    let state = AppState::new(Services {
        engine,
        auth,
        store: store.clone(),
        limiter,
        audit,
        config: Arc::new(config),
        metrics: metrics_handle(),
        audit_writer_done: audit_writer_done.clone(),
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = CancellationToken::new();
    let mut workers = Workers::start(worker_count, &listener, &app, &shutdown)?;
    drop(listener);
    let writer_task = tokio::spawn(async move {
        if let Err(error) = writer.await {
            tracing::error!(%error, "audit writer ended abnormally");
        }
        audit_writer_done.cancel();
    });

    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        // Dropped unfinished (the runtime this runs on went away), the
        // guard still lets the workers end.
        let release = workers.release.clone().drop_guard();
        stop.cancelled().await;
        let served = tokio::time::timeout(grace, workers.wait_served()).await;
        let result = match served {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "shutdown grace period over; dropping open connections"
                );
                Ok(())
            }
        };
        writer_stop.cancel();
        writer_task.await.context("audit writer panicked")?;
        store.close().await;
        drop(release);
        workers.join().await?;
        tracing::info!("stopped");
        result
    });
    tracing::info!(%addr, workers = worker_count, "listening");
    Ok(Running {
        addr,
        bootstrapped,
        shutdown,
        task,
    })
}

type App = IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>;

/// The request-serving threads. Each runs its own single-threaded runtime
/// and accepts from the shared listening socket, so a connection, its
/// requests and their upstream calls stay on one thread: no hand-offs
/// between threads on the hot path, and an idle thread is the first to
/// pick up a new connection. Background work (the audit writer) stays on
/// the runtime that called [`start`].
struct Workers {
    threads: Vec<std::thread::JoinHandle<()>>,
    /// One per worker: resolves when it stopped serving.
    served: Vec<oneshot::Receiver<std::io::Result<()>>>,
    /// Cancelled once the store is closed: a worker's runtime ends only
    /// then, since database connections it opened are driven by it.
    release: CancellationToken,
}

impl Workers {
    fn start(
        count: usize,
        listener: &std::net::TcpListener,
        app: &App,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Workers> {
        let release = CancellationToken::new();
        // Should a later worker fail to start, the ones already running end.
        let started = release.clone().drop_guard();
        let mut threads = Vec::with_capacity(count);
        let mut served = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a worker runtime")?;
            let listener = {
                let _context = runtime.enter();
                TcpListener::from_std(listener.try_clone()?)?
            };
            let (done, done_rx) = oneshot::channel();
            served.push(done_rx);
            let app = app.clone();
            let stop = shutdown.clone();
            let release = release.clone();
            let thread = std::thread::Builder::new()
                .name(format!("hearth-worker-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let result = tokio::select! {
                            result = serve_connections(listener, app, stop) => result,
                            () = release.cancelled() => Ok(()),
                        };
                        let _ = done.send(result);
                        release.cancelled().await;
                    });
                })
                .context("cannot start a worker thread")?;
            threads.push(thread);
        }
        started.disarm();
        Ok(Workers {
            threads,
            served,
            release,
        })
    }

    /// Waits until every worker has stopped accepting and its connections
    /// have finished; the first error, if any.
    async fn wait_served(&mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        for done in &mut self.served {
            if let Ok(Err(error)) = done.await
                && result.is_ok()
            {
                result = Err(anyhow::Error::new(error).context("server error"));
            }
        }
        result
    }

    /// Waits for the threads to end (after `release`).
    async fn join(self) -> anyhow::Result<()> {
        let threads = self.threads;
        let all_ended = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(std::thread::JoinHandle::join)
                .all(|joined| joined.is_ok())
        })
        .await
        .unwrap_or(false);
        anyhow::ensure!(all_ended, "a worker thread panicked");
        Ok(())
    }
}

/// One worker's accept loop, until `stop` and its open requests finish.
async fn serve_connections(
    listener: TcpListener,
    app: App,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Without it a response written in two pieces waits on a delayed
        // ACK.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
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
