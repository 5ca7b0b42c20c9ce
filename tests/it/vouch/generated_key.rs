//! The warning about a generated signing key, from the real binary's log: with a route
//! that signs assertions and no `signing_keys`, the gateway says once, at start, that the
//! key lives in this process only (replicas need a shared key file), signs with that
//! key, and keeps it across a reload without saying it again; with `signing_keys`
//! configured it says nothing of the kind.

use std::process::Command;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::{key_entry, key_file, PUBLIC};
use crate::core::access_log::{start_logged, stop, Logged};
use crate::machine::key_line;
use crate::support::client::get;
use crate::support::echo_upstream;

/// The warning's words that matter to an operator.
const SHARED_KEY_FILE: &str = "replicas behind one JWKS URL need a shared key file";

/// A config whose only route takes API keys (no identity provider to wait for) and
/// signs assertions; `tail` adds top-level keys.
fn yaml(
    dir: &std::path::Path,
    up: std::net::SocketAddr,
    key_file_line: &str,
    tail: &str,
) -> String {
    let keys = dir.join("keys.yaml");
    std::fs::write(&keys, key_file_line).unwrap();
    format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  public_url: \"{PUBLIC}\"\n  \
         timeouts: {{ shutdown_grace: 1s }}\n\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         log:\n  format: json\n  level: info\n  access: off\n\
         api_keys:\n  - {{ name: ci, file: \"{}\" }}\n\
         routes:\n  - name: api\n    upstream: \"http://{up}\"\n    auth: api_key\n    \
         identity_assertion: {{ audience: orders }}\n{tail}",
        keys.display()
    )
}

/// The `kid` of the assertion the upstream got for a request with `key`.
async fn signed_kid(bin: &Logged, key: &str) -> String {
    let r = get(
        &format!("http://{}/x", bin.addr),
        &[("authorization", &format!("ApiKey {key}"))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let jws = r.echoed("x-portcullis-assertion").expect("an assertion");
    let header = URL_SAFE_NO_PAD
        .decode(jws.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn warnings(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("no signing_keys configured"))
        })
        .collect()
}

#[tokio::test]
async fn a_generated_key_is_announced_once_at_start_and_kept_across_reloads() {
    let up = echo_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, line) = key_line("ci-bot", "");
    let mut bin = start_logged(&yaml(dir.path(), up, &line, ""), &dir);

    // Said while starting, before the gateway listens: once, at warn, naming the key.
    let said = warnings(&bin.head);
    assert_eq!(said.len(), 1, "{:#?}", bin.head);
    assert_eq!(said[0]["level"], "WARN");
    let message = said[0]["message"].as_str().unwrap();
    assert!(message.contains(SHARED_KEY_FILE), "{message}");
    assert!(message.contains("(signing_keys)"), "{message}");
    assert_eq!(said[0]["alg"], "ES256");
    let kid = said[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(signed_kid(&bin, &key).await, kid, "it signs with that key");

    // A reload keeps the generated key (verifiers cache it) and says nothing again.
    let hup = Command::new("kill")
        .args(["-HUP", &bin.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut seen = Vec::new();
    loop {
        let line = bin
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a reload line");
        let reloaded = line.contains("configuration reloaded");
        assert!(!line.contains("config reload rejected"), "{line}");
        seen.push(line);
        if reloaded {
            break;
        }
    }
    assert_eq!(
        signed_kid(&bin, &key).await,
        kid,
        "the same key after reload"
    );
    seen.extend(stop(&mut bin.child, &bin.lines));
    assert_eq!(warnings(&seen).len(), 0, "said again: {seen:#?}");
}

#[tokio::test]
async fn configured_signing_keys_are_not_announced() {
    let up = echo_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, line) = key_line("ci-bot", "");
    let pem = key_file(dir.path(), "k1.pem", "ec");
    let tail = format!("signing_keys:\n{}", key_entry("k1", &pem, ""));
    let mut bin = start_logged(&yaml(dir.path(), up, &line, &tail), &dir);
    assert_eq!(signed_kid(&bin, &key).await, "k1");
    let mut lines = bin.head.clone();
    lines.extend(stop(&mut bin.child, &bin.lines));
    assert!(warnings(&lines).is_empty(), "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains(SHARED_KEY_FILE)),
        "{lines:#?}"
    );
}
