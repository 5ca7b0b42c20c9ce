//! A real `redis-server` child process for one test: a free port on 127.0.0.1, its own
//! temp dir, no persistence (`--save '' --appendonly no`). It can be killed and started
//! again on the same port (an outage and a recovery). `.ci/run` installs the Debian
//! package; a missing binary fails the test loudly (no silent skip).

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a fresh server may take to answer PING.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A running (or deliberately stopped) redis-server.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `(cert, key)` PEM files: serve TLS only (`rediss://`) with this self-signed cert.
    tls: Option<(PathBuf, PathBuf)>,
}

impl RedisServer {
    /// Starts a server on a free port; panics if none comes up.
    pub async fn start() -> RedisServer {
        RedisServer::start_with(None).await
    }

    /// Starts a TLS-only server (`--port 0 --tls-port <port>`) presenting `cert`.
    pub async fn start_tls(cert: PathBuf, key: PathBuf) -> RedisServer {
        RedisServer::start_with(Some((cert, key))).await
    }

    async fn start_with(tls: Option<(PathBuf, PathBuf)>) -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                port,
                dir: tempfile::tempdir().expect("tempdir for redis"),
                child: None,
                tls: tls.clone(),
            };
            match server.spawn().await {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port (stable across [`RedisServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL) and waits for it to exit: connections drop at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub async fn restart(&mut self) {
        self.kill();
        let mut last = String::new();
        // The port was ours a moment ago; another test grabbing it in between is
        // unlikely, and a failed bind is reported rather than retried elsewhere.
        for _ in 0..3 {
            match self.spawn().await {
                Ok(()) => return,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not restart on port {}: {last}", self.port);
    }

    /// Sends one inline command and returns the raw reply (for assertions on keys).
    pub async fn command(&self, line: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to redis");
        s.write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        let mut buf = vec![0u8; 64 * 1024];
        let n = s.read(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = command(self.port, self.dir.path(), self.tls.as_ref())
            .spawn()
            .map_err(|e| {
                format!("cannot run redis-server (install the redis-server package): {e}")
            })?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            if self.ping().await {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    let log = std::fs::read_to_string(self.dir.path().join("redis.log"))
                        .unwrap_or_default();
                    return Err(format!("exited with {status}: {log}"));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                self.kill();
                return Err("no PONG within the start limit".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if self.tls.is_some() {
            // Listening is enough here; the gateway under test does the TLS.
            return true;
        }
        if s.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf).await, Ok(n) if buf[..n].starts_with(b"+PONG"))
    }
}

/// A free port BELOW the kernel's ephemeral range: while the server is down, clients
/// keep reconnecting, and a connect to a dead ephemeral-range port can end up connected
/// to itself (TCP self-connect), which would hold the port and break the restart.
fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    let (from, span) = if low > 12_000 {
        (10_000u16, low - 10_000)
    } else {
        (low, 1000)
    };
    for _ in 0..200 {
        let r = u16::from_str_radix(&super::fake_idp::random_hex(2), 16).expect("hex");
        let port = from + r % span;
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn command(port: u16, dir: &Path, tls: Option<&(PathBuf, PathBuf)>) -> Command {
    let mut c = Command::new("redis-server");
    match tls {
        None => {
            c.arg("--port").arg(port.to_string());
        }
        Some((cert, key)) => {
            c.args(["--port", "0", "--tls-port"])
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(cert)
                .args(["--tls-auth-clients", "no"]);
        }
    }
    c.args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--protected-mode", "no"])
        .args(["--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
