//! Process lifecycle: binds the public and admin listeners, starts reload watching,
//! and drains on shutdown (stop accepting, finish in-flight requests up to
//! `shutdown_grace`). Owns no request logic.

pub mod admin;
pub mod reload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::runtime::{BuildError, Gateway};
use crate::transport::tls::TlsError;
use crate::transport::{listener, server_tls as tls, workers, ListenerMetrics};

/// Longest wait at shutdown for the last spans' export.
const TRACE_FLUSH: Duration = Duration::from_secs(5);

/// Why the gateway could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS files are unusable.
    #[error("server.tls: {0}")]
    Tls(#[from] TlsError),
    /// The first snapshot could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A worker thread could not start.
    #[error("cannot start worker threads: {0}")]
    Workers(std::io::Error),
}

/// A started gateway.
pub struct Running {
    /// Bound public address (useful with port 0).
    pub addr: SocketAddr,
    /// Bound admin address, if enabled.
    pub admin_addr: Option<SocketAddr>,
    /// Shared state (snapshot + metrics).
    pub gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Starts draining: stop accepting, let in-flight requests finish.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the drain has finished (or the grace period ran out).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds and starts everything with one worker per CPU. `config_path` enables
/// file-watch/SIGHUP reload.
pub async fn start(config: Config, config_path: Option<PathBuf>) -> Result<Running, StartError> {
    start_with_workers(config, config_path, workers::default_count()).await
}

/// [`start`] with `workers` threads serving the connections (`workers.rs`).
pub async fn start_with_workers(
    config: Config,
    config_path: Option<PathBuf>,
    workers: usize,
) -> Result<Running, StartError> {
    // First: the upstream pools of the first snapshot are sharded by worker.
    let workers = Arc::new(workers::Workers::start(workers).map_err(StartError::Workers)?);
    let metrics = Arc::new(Metrics::new()?);
    let server_cfg = config.server.clone();
    let admin_addr = config.admin.listen;
    let tls = match &server_cfg.tls {
        Some(files) => Some(tls::server_config(files)?),
        None => None,
    };
    let gateway = Arc::new(Gateway::new(config, metrics)?);

    let listener = bind(server_cfg.listen).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: server_cfg.listen,
        source,
    })?;
    let admin = match admin_addr {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let admin_bound = admin.as_ref().and_then(|l| l.local_addr().ok());

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let settings = listener::ListenerSettings {
        header_read: server_cfg.timeouts.header_read,
        idle: server_cfg.timeouts.idle,
        tls,
    };
    let protocols = Arc::new(listener::Protocols::new(&server_cfg));
    let accept = tokio::spawn(listener::accept_loop(
        listener,
        gateway.clone(),
        settings,
        protocols,
        shutdown.clone(),
        tracker.clone(),
        workers.clone(),
        ListenerMetrics {
            open: gateway.metrics.connections_open.clone(),
            idle: gateway.metrics.connections_idle.clone(),
        },
    ));
    if let Some(admin) = admin {
        tokio::spawn(admin::serve(
            admin,
            gateway.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
    }
    if let Some(path) = config_path {
        // Small file, read once at start-up: the baseline for change detection.
        let loaded = std::fs::read(&path).ok();
        tokio::spawn(reload::watch(
            gateway.clone(),
            path,
            loaded,
            shutdown.clone(),
        ));
    }
    tracing::info!(%addr, admin = ?admin_bound, "portcullis listening");

    let grace = server_cfg.timeouts.shutdown_grace;
    let token = shutdown.clone();
    let gateway_stop = gateway.clone();
    let task = tokio::spawn(async move {
        token.cancelled().await;
        let _ = accept.await;
        tracker.close();
        drain(&tracker, grace).await;
        // The last requests' spans, before the process ends.
        if let Some(tracer) = &gateway_stop.snapshot().tracer {
            tracer.flush(TRACE_FLUSH).await;
        }
        gateway_stop.stop();
        // Closes what outlived the grace period, and waits for the worker threads.
        workers.stop().await;
    });
    Ok(Running {
        addr,
        admin_addr: admin_bound,
        gateway,
        shutdown,
        task,
    })
}

async fn drain(tracker: &TaskTracker, grace: Duration) {
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            open = tracker.len(),
            "shutdown grace period over; closing remaining connections"
        );
    } else {
        tracing::info!("all connections drained");
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|source| StartError::Bind { addr, source })?;
    // Allows an immediate restart while old connections sit in TIME_WAIT.
    let _ = socket.set_reuseaddr(true);
    socket
        .bind(addr)
        .map_err(|source| StartError::Bind { addr, source })?;
    socket
        .listen(4096)
        .map_err(|source| StartError::Bind { addr, source })
}

/// Runs until SIGTERM/SIGINT, then drains. The entry point of `portcullis run`:
/// `workers` threads serve the connections (default: one per CPU).
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    workers: Option<usize>,
) -> Result<(), StartError> {
    let workers = workers.unwrap_or_else(workers::default_count);
    let running = start_with_workers(config, config_path, workers).await?;
    wait_for_signal().await;
    tracing::info!("shutdown signal received; draining");
    running.shutdown();
    running.wait().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
