//! The access log of the real binary: one escaped line per request on standard output,
//! in the configured format, flushed at exit; none with `log.access: off`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::client::get;
use crate::support::echo_upstream;

/// Starts the binary on `yaml`; returns it, its stdout lines, and its address.
pub fn start(yaml: &str, dir: &tempfile::TempDir) -> (Child, mpsc::Receiver<String>, String) {
    let b = spawn(yaml, dir, false);
    (b.child, b.lines, b.addr)
}

/// A binary started by [`start_logged`].
pub struct Logged {
    /// The process.
    pub child: Child,
    /// Every line it writes from now on, stdout and stderr alike.
    pub lines: mpsc::Receiver<String>,
    /// The lines it wrote up to and including "portcullis listening".
    pub head: Vec<String>,
    /// Its public address.
    pub addr: String,
    /// Its admin address (`/metrics`).
    pub admin: String,
}

/// Starts the binary on `yaml` with standard error captured as well, keeping the lines
/// it logs while starting: for tests about what reaches the logs.
pub fn start_logged(yaml: &str, dir: &tempfile::TempDir) -> Logged {
    spawn(yaml, dir, true)
}

fn spawn(yaml: &str, dir: &tempfile::TempDir, stderr: bool) -> Logged {
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, yaml).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "--workers", "1", "--config"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(if stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("spawn portcullis");
    let (tx, rx) = mpsc::channel();
    let mut pipes: Vec<Box<dyn std::io::Read + Send>> = Vec::new();
    if let Some(out) = child.stdout.take() {
        pipes.push(Box::new(out));
    }
    if let Some(err) = child.stderr.take() {
        pipes.push(Box::new(err));
    }
    for pipe in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let mut head = Vec::new();
    let listening = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a start-up line");
        head.push(line.clone());
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v["message"] == "portcullis listening" {
            break v;
        }
    };
    let addr = listening["addr"].as_str().expect("addr").to_owned();
    // `admin` is logged as `Some(127.0.0.1:port)`, or `None`.
    let admin = listening["admin"]
        .as_str()
        .and_then(|a| a.strip_prefix("Some(")?.strip_suffix(')'))
        .unwrap_or_default()
        .to_owned();
    Logged {
        child,
        lines: rx,
        head,
        addr,
        admin,
    }
}

/// Stops the binary (SIGTERM: it drains and flushes) and returns the rest of stdout.
pub fn stop(child: &mut Child, rx: &mpsc::Receiver<String>) -> Vec<String> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        lines.push(line);
    }
    lines
}

fn config(up: std::net::SocketAddr, access: &str) -> String {
    format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  timeouts: {{ shutdown_grace: 1s }}\n\
         log:\n  format: json\n  level: info\n  access: {access}\n\
         routes:\n  - name: echo\n    upstream: \"http://{up}\"\n    auth: none\n"
    )
}

#[tokio::test]
async fn each_request_gets_one_json_access_line_and_none_when_off() {
    let up = echo_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (mut child, rx, addr) = start(&config(up, "on"), &dir);
    let resp = get(&format!("http://{addr}/a%22b?token=secret"), &[]).await;
    assert_eq!(resp.status, 200);
    let id = resp.headers["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let lines = stop(&mut child, &rx);
    let access: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect();
    assert_eq!(access.len(), 1, "{lines:#?}");
    let line = &access[0];
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["status"], 200);
    assert_eq!(line["route"], "echo");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/a%22b");
    assert!(line["duration_ms"].as_f64().is_some());
    assert!(
        !lines.iter().any(|l| l.contains("secret")),
        "the query is never logged"
    );

    let (mut child, rx, addr) = start(&config(up, "off"), &dir);
    assert_eq!(get(&format!("http://{addr}/b"), &[]).await.status, 200);
    let lines = stop(&mut child, &rx);
    assert!(
        !lines.iter().any(|l| l.contains("\"target\":\"access\"")),
        "{lines:#?}"
    );
}
