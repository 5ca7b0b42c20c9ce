//! Machine credentials (issue 17, parts 2, 3 and 5) through a running gateway: API keys
//! (`api_keys.rs`, the CLI in `api_key_cli.rs`, the logs in `api_key_logs.rs`),
//! DPoP-bound tokens (`dpop.rs`, replicas sharing a replay cache in `dpop_shared.rs`)
//! and RFC 9728 protected resource metadata (`resource_metadata.rs`).

mod api_key_cli;
mod api_key_logs;
mod api_keys;
mod dpop;
mod dpop_nonce;
mod dpop_shared;
mod resource_metadata;

use crate::support::client::{send, Resp};
use crate::support::fake_idp::{b64url, random_hex};
use crate::support::TestGateway;

/// The external origin the test gateways claim (`server.public_url`): proofs name it,
/// whatever address the test connects to.
pub const PUBLIC: &str = "https://api.example.test";

/// The `server:`/`admin:` head of a gateway listening on port 0 with `public_url`.
pub fn server_head(public_url: Option<&str>) -> String {
    let public = public_url.map_or(String::new(), |u| format!("  public_url: \"{u}\"\n"));
    format!("server:\n  listen: \"127.0.0.1:0\"\n{public}admin:\n  listen: \"127.0.0.1:0\"\n")
}

/// Sends `method path` to the gateway with these headers.
pub async fn call(gw: &TestGateway, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(
        method,
        &format!("{}{path}", gw.url),
        headers,
        bytes::Bytes::new(),
    )
    .await
}

/// `WWW-Authenticate` as text ("" when absent).
pub fn challenge(r: &Resp) -> String {
    r.header("www-authenticate").unwrap_or_default().to_owned()
}

/// A fresh key and its key-file line, made the way an operator would (the file holds the
/// key's SHA-256 only); `extra` adds members (`, groups: [ops]`).
pub fn key_line(sub: &str, extra: &str) -> (String, String) {
    let key = format!("pk_{}", b64url(random_hex(32)));
    let line = format!(
        "- {{ sha256: \"{}\", sub: \"{sub}\"{extra} }}\n",
        key_hash(&key)
    );
    (key, line)
}

/// The hex SHA-256 of `key`, as key files hold it.
pub fn key_hash(key: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
