//! Helpers for the bearer-authentication tests: YAML for a gateway in front of one or more
//! FakeIdps, readiness polling, requests carrying a token, RFC 6750 challenge assertions
//! and raw HTTP/1.1 requests whose header names keep the exact spelling a client chose.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::{get, Resp};
use super::fake_idp::FakeIdp;
use super::TestGateway;

/// The audience every standard test token carries (and the introspection client id).
pub const AUD: &str = "api1";

/// How one `providers[]` item is written; [`ProviderYaml::default`] is the standard
/// Bearer provider with introspection and a JWKS refetch interval of one hour.
#[derive(Debug, Clone)]
pub struct ProviderYaml {
    /// `name`.
    pub name: String,
    /// `client_id`.
    pub client_id: String,
    /// `tokens.schemes`, as a YAML flow list.
    pub schemes: String,
    /// `tokens.audiences`, as a YAML flow list.
    pub audiences: String,
    /// `tokens.jwks_refetch_interval`.
    pub refetch: String,
    /// `tokens.introspection` as a YAML flow map (`None`: no introspection).
    pub introspection: Option<String>,
    /// More provider keys (`userinfo: never`, `claims: {...}`), one per line, unindented.
    pub extra: Vec<String>,
    /// More `tokens` keys (`userinfo_rate_limit: {...}`), one per line, unindented.
    pub tokens_extra: Vec<String>,
}

impl Default for ProviderYaml {
    fn default() -> Self {
        ProviderYaml {
            name: "idp".into(),
            client_id: "portcullis".into(),
            schemes: "[Bearer]".into(),
            audiences: format!("[{AUD}]"),
            refetch: "1h".into(),
            introspection: Some(
                "{ client_id: api1, client_secret: api1-secret, negative_cache_ttl: 1h }".into(),
            ),
            extra: Vec::new(),
            tokens_extra: Vec::new(),
        }
    }
}

impl ProviderYaml {
    /// The default provider under another name.
    pub fn named(name: &str) -> Self {
        ProviderYaml {
            name: name.into(),
            ..ProviderYaml::default()
        }
    }

    /// Adds a provider-level key (e.g. `userinfo: never`).
    pub fn with(mut self, line: &str) -> Self {
        self.extra.push(line.to_owned());
        self
    }

    /// The list item, indented for a top-level `providers:` key.
    pub fn render(&self, idp: &FakeIdp) -> String {
        let mut out = format!(
            "  - name: {}\n    issuer: \"{}\"\n    discovery_url: \"{}\"\n    client_id: {}\n    \
             client_secret: client-secret\n    tokens:\n      schemes: {}\n      audiences: {}\n      \
             jwks_refetch_interval: {}\n",
            self.name,
            idp.issuer(),
            idp.discovery_url(),
            self.client_id,
            self.schemes,
            self.audiences,
            self.refetch,
        );
        if let Some(i) = &self.introspection {
            out.push_str(&format!("      introspection: {i}\n"));
        }
        for line in &self.tokens_extra {
            out.push_str(&format!("      {line}\n"));
        }
        for line in &self.extra {
            out.push_str(&format!("    {line}\n"));
        }
        out
    }
}

/// One `routes[]` item: `name`, `path_prefix`, the echo upstream, `auth: bearer` unless
/// `extra` sets `auth:`; `extra` holds more route keys, one per line, unindented.
pub fn route(name: &str, prefix: &str, up: SocketAddr, extra: &[&str]) -> String {
    let mut out = format!(
        "  - name: {name}\n    match: {{ path_prefix: \"{prefix}\" }}\n    upstream: \"http://{up}\"\n"
    );
    if !extra.iter().any(|l| l.starts_with("auth:")) {
        out.push_str("    auth: bearer\n");
    }
    for line in extra {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

/// A whole config: `providers` then `routes` (each already rendered).
pub fn config(providers: &[String], routes: &[String]) -> String {
    format!(
        "providers:\n{}routes:\n{}",
        providers.concat(),
        routes.concat()
    )
}

/// The standard setup: provider `idp` (defaults) and route `api` on `/` (bearer, plus
/// `route_extra`).
pub fn standard(idp: &FakeIdp, up: SocketAddr, route_extra: &[&str]) -> String {
    config(
        &[ProviderYaml::default().render(idp)],
        &[route("api", "/", up, route_extra)],
    )
}

/// Polls `/readyz` until it answers 200 (every provider discovered); panics after 20 s.
pub async fn wait_ready(gw: &TestGateway) {
    let url = format!("{}/readyz", gw.admin_url);
    let url = url.as_str();
    let ok = poll(Duration::from_secs(20), || async move {
        get(url, &[]).await.status == 200
    })
    .await;
    assert!(ok, "gateway not ready within 20 s");
}

/// Starts a gateway from `yaml` and waits until it is ready.
pub async fn start_ready(yaml: &str) -> TestGateway {
    let gw = TestGateway::start(yaml).await;
    wait_ready(&gw).await;
    gw
}

/// Calls `check` every 20 ms until it returns true or `limit` passes; returns the last
/// verdict. For conditions that become true asynchronously, never for timing claims.
pub async fn poll<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET `path` on the gateway with `Authorization: Bearer <token>`.
pub async fn bearer(gw: &TestGateway, path: &str, token: &str) -> Resp {
    with_auth(gw, path, &format!("Bearer {token}")).await
}

/// GET `path` on the gateway with this exact `Authorization` value.
pub async fn with_auth(gw: &TestGateway, path: &str, authorization: &str) -> Resp {
    get(
        &format!("{}{path}", gw.url),
        &[("authorization", authorization)],
    )
    .await
}

/// Sends one GET per `authorizations` entry to `url`, all at once, and returns the
/// responses in the same order.
pub async fn concurrent(url: &str, authorizations: Vec<String>) -> Vec<Resp> {
    let tasks: Vec<_> = authorizations
        .into_iter()
        .map(|auth| {
            let url = url.to_owned();
            tokio::spawn(async move { get(&url, &[("authorization", auth.as_str())]).await })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

/// GET `path` on the gateway with no credentials.
pub async fn anonymous(gw: &TestGateway, path: &str) -> Resp {
    get(&format!("{}{path}", gw.url), &[]).await
}

/// 401 with `WWW-Authenticate: Bearer realm="<realm>", error="invalid_token"`.
#[track_caller]
pub fn assert_invalid_token(r: &Resp, realm: &str, what: &str) {
    assert_invalid_token_challenge(r, "Bearer", realm, what);
}

/// 401 with `WWW-Authenticate: <scheme> realm="<realm>", error="invalid_token"`.
#[track_caller]
pub fn assert_invalid_token_challenge(r: &Resp, scheme: &str, realm: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("{scheme} realm=\"{realm}\", error=\"invalid_token\"").as_str()),
        "{what}"
    );
}

/// 401 with a bare `WWW-Authenticate: Bearer realm="<realm>"` (RFC 6750 §3.1: no error
/// attribute when the request carried no usable credentials).
#[track_caller]
pub fn assert_bare_challenge(r: &Resp, realm: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("Bearer realm=\"{realm}\"").as_str()),
        "{what}"
    );
}

/// 503 with `Retry-After` (an identity-provider problem is never the client's 401).
#[track_caller]
pub fn assert_unavailable(r: &Resp, what: &str) {
    assert_eq!(r.status, 503, "{what}: {}", r.text());
    assert!(r.header("retry-after").is_some(), "{what}: no Retry-After");
    assert!(
        r.header("www-authenticate").is_none(),
        "{what}: a 503 must not challenge"
    );
}

/// A response read from a raw connection.
pub struct RawResp {
    /// Status code.
    pub status: u16,
    /// The response head (status line and headers) as text.
    pub head: String,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl RawResp {
    /// The body as JSON (the echo upstream's view of the request).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `GET <target>` over a fresh connection with the header lines exactly as given
/// (`("X_Auth_User", "x")` goes out byte for byte), `Connection: close`, and reads the
/// whole answer (Content-Length or chunked).
pub async fn raw_get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> RawResp {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    // The gateway closes after answering (`Connection: close`); errors end the read too.
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let rest = &out[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head}"));
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    RawResp { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).expect("chunk size");
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// Every header value the echo upstream received, as `(name, value)` pairs.
pub fn echoed_headers(echo: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = echo["headers"].as_object() {
        for (name, values) in map {
            for v in values.as_array().into_iter().flatten() {
                out.push((name.clone(), v.as_str().unwrap_or_default().to_owned()));
            }
        }
    }
    out
}
