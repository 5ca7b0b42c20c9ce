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
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, yaml).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "--workers", "1", "--config"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn portcullis");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a start-up line");
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v["message"] == "portcullis listening" {
            break v["addr"].as_str().expect("addr").to_owned();
        }
    };
    (child, rx, addr)
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
