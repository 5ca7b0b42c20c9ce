//! Test support: a gateway started on 127.0.0.1:0 from a YAML string, the bundled echo
//! upstream, special upstreams (refusing, silent, gated) and small HTTP clients.
#![allow(dead_code)]

pub mod bearer;
pub mod browser;
pub mod client;
pub mod dpop;
pub mod fake_idp;
pub mod nginx;
pub mod otlp;
pub mod pyjwt;
pub mod redis;
pub mod tls;
pub mod tls_upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use portcullis::server::{self, Running};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// A running gateway for one test.
pub struct TestGateway {
    /// The running server.
    pub running: Running,
    /// Public base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Admin base URL.
    pub admin_url: String,
    /// Kept alive for tests that use a config file.
    pub _dir: Option<tempfile::TempDir>,
    /// The config file, when started from one.
    pub config_path: Option<PathBuf>,
}

/// Worker threads of a test gateway: more than one whatever the machine, so every test
/// runs connections on several event loops.
pub const TEST_WORKERS: usize = 2;

/// Header every test YAML gets unless it sets `server:`/`admin:` itself.
const LISTEN: &str = "server:\n  listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\n";

/// Prepends the port-0 listen blocks when the YAML has none.
pub fn with_listen(yaml: &str) -> String {
    if yaml.contains("server:") {
        yaml.to_owned()
    } else {
        format!("{LISTEN}{yaml}")
    }
}

impl TestGateway {
    /// Starts a gateway from YAML (no file watching) with [`TEST_WORKERS`] workers.
    pub async fn start(yaml: &str) -> TestGateway {
        TestGateway::start_with_workers(yaml, TEST_WORKERS).await
    }

    /// [`TestGateway::start`] with `workers` worker threads: tests that count upstream
    /// connections use one, since each worker keeps its own.
    pub async fn start_with_workers(yaml: &str, workers: usize) -> TestGateway {
        let cfg = portcullis::config::load_str(&with_listen(yaml))
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let running = server::start_with_workers(cfg, None, workers)
            .await
            .expect("gateway starts");
        TestGateway::from_running(running, None, None)
    }

    /// Starts a gateway from a YAML file that is watched for changes.
    pub async fn start_with_file(yaml: &str) -> TestGateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("portcullis.yaml");
        std::fs::write(&path, with_listen(yaml)).expect("write config");
        let cfg = portcullis::config::load_file(&path)
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let running = server::start_with_workers(cfg, Some(path.clone()), TEST_WORKERS)
            .await
            .expect("gateway starts");
        TestGateway::from_running(running, Some(dir), Some(path))
    }

    fn from_running(
        running: Running,
        dir: Option<tempfile::TempDir>,
        config_path: Option<PathBuf>,
    ) -> TestGateway {
        let url = format!("http://{}", running.addr);
        let admin_url = running
            .admin_addr
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        TestGateway {
            running,
            url,
            admin_url,
            _dir: dir,
            config_path,
        }
    }

    /// The current Prometheus text.
    pub async fn metrics(&self) -> String {
        let r = client::get(&format!("{}/metrics", self.admin_url), &[]).await;
        r.text()
    }

    /// The value of one metric line (exact name with labels), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics().await, series)
    }
}

/// Finds `series` (e.g. `portcullis_config_reloads_total{result="error"}`) in `text`.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Starts the bundled echo upstream; returns `host:port`.
pub async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(portcullis::echo::serve(listener));
    addr
}

/// An upstream that answers every request on a connection with `response` (a request
/// ends at its blank line plus the body its `Content-Length` gives), and closes the
/// connection after the first answer when `close` is set.
pub async fn fixed_upstream(response: &'static [u8], close: bool) -> SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut input = Vec::new();
                loop {
                    while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&input[..end]).to_ascii_lowercase();
                        let body: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if input.len() < end + 4 + body {
                            break;
                        }
                        input.drain(..end + 4 + body);
                        if s.write_all(response).await.is_err() || close {
                            return;
                        }
                    }
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(n) if n > 0 => input.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
            });
        }
    });
    addr
}

/// An address where nothing listens (connections are refused).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// An upstream that accepts connections and never answers.
pub async fn silent_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// An upstream that signals each request's arrival and answers only when released.
pub struct GatedUpstream {
    /// Its address.
    pub addr: SocketAddr,
    /// Receives one message per request that arrived.
    pub arrived: mpsc::UnboundedReceiver<()>,
    /// Releases every waiting request.
    pub release: Arc<Notify>,
}

/// Starts a [`GatedUpstream`].
pub async fn gated_upstream() -> GatedUpstream {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, arrived) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let tx = tx.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let tx = tx.clone();
                    let gate = gate.clone();
                    async move {
                        let released = gate.notified();
                        let _ = tx.send(());
                        released.await;
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from_static(b"released"),
                        )))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    GatedUpstream {
        addr,
        arrived,
        release,
    }
}
