//! A real nginx (the Debian package) for one test: a child process on a free port with
//! its own temporary prefix, config, pid file, temp paths and error log; `daemon off`
//! and no master process, so the child IS the server and dropping the handle ends it.
//! The `http {}` body is the test's; `{{PORT}}` in it becomes the chosen port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where the Debian package installs the binary.
const NGINX_BIN: &str = "/usr/sbin/nginx";
/// Attempts when another process takes the free port before nginx binds it.
const PORT_ATTEMPTS: usize = 5;

/// A running nginx; stopped (by its own pid) when dropped.
pub struct Nginx {
    child: Child,
    /// `127.0.0.1:<port>` it listens on.
    pub addr: SocketAddr,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// The nginx binary, when installed.
    pub fn binary() -> Option<PathBuf> {
        let p = PathBuf::from(NGINX_BIN);
        p.exists().then_some(p)
    }

    /// Starts nginx with `http_body` inside `http {}` and waits until it accepts
    /// connections (bounded). Panics with the error log when it cannot start.
    pub async fn start(http_body: &str) -> Nginx {
        let bin = Nginx::binary()
            .unwrap_or_else(|| panic!("{NGINX_BIN} missing: apt-get install -y nginx"));
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let dir = tempfile::tempdir().expect("nginx tempdir");
            let port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(
                &conf,
                main_conf(
                    dir.path(),
                    &http_body.replace("{{PORT}}", &port.to_string()),
                ),
            )
            .expect("write nginx.conf");
            let error_log = dir.path().join("error.log");
            let child = Command::new(&bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(&error_log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn nginx");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut nginx = Nginx {
                child,
                addr,
                url: format!("http://{addr}"),
                dir,
            };
            match nginx.wait_listening().await {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx found no free port in {PORT_ATTEMPTS} attempts:\n{last_log}");
    }

    /// Polls until the port accepts a connection; the error log when the child exits or
    /// 20 s pass.
    async fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}\n{}", self.error_log()));
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("not listening after 20 s\n{}", self.error_log()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (nginx binds it itself; a lost race is retried).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn main_conf(prefix: &Path, http_body: &str) -> String {
    let p = prefix.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log {p}/error.log info;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/client_body;\n  \
         proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  \
         uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{http_body}\n}}\n"
    )
}
