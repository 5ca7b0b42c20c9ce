//! The HTTP client for calls to identity providers (discovery, JWKS, introspection,
//! userinfo, token endpoint): hyper-util's pooled client over hyper-rustls (aws-lc-rs).
//!
//! It owns transport concerns only: TLS roots, plain-http refusal for non-loopback hosts,
//! per-call timeouts and a response-size cap. It must never block the runtime, never follow
//! redirects, and never put a secret (client secret, token, Authorization value) into an
//! error or a log line.

pub mod client_auth;
pub mod limit;
pub mod observe;
mod traced;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

/// Largest response body accepted from an identity provider.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
const UA: &str = concat!("portcullis/", env!("CARGO_PKG_VERSION"));

/// Why a call to an identity provider failed. Messages never contain secrets or URLs
/// with credentials: the caller adds the provider name and call kind as context.
#[derive(Debug, Error)]
pub enum HttpError {
    /// The whole call (connect, request, body) exceeded its timeout.
    #[error("timed out")]
    Timeout,
    /// The connection could not be made (DNS, TCP, TLS).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The provider answered with an unexpected status.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The response body exceeded the size cap.
    #[error("response body too large")]
    TooLarge,
    /// The request could not be sent or the body could not be read.
    #[error("bad response body: {0}")]
    BadBody(String),
    /// The URL is unusable: not absolute, or plain http to a non-loopback host.
    #[error("refused URL: {0}")]
    BadUrl(&'static str),
    /// The TLS client configuration could not be built.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// A complete, size-capped response.
#[derive(Debug, Clone)]
pub struct IdpResponse {
    /// The status code (any; see [`IdpResponse::success`]).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the client's cap.
    pub body: Bytes,
}

impl IdpResponse {
    /// The response itself when its status is 2xx, else [`HttpError::Status`].
    pub fn success(self) -> Result<Self, HttpError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(HttpError::Status(self.status.as_u16()))
        }
    }

    /// Whether the `Content-Type` is JSON (`application/json` or `+json`, any params).
    pub fn is_json(&self) -> bool {
        let Some(ct) = self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
    }
}

type Connector = HttpsConnector<HttpConnector>;

/// A pooled client for one provider (one CA set). Cheap to clone.
#[derive(Clone, Debug)]
pub struct IdpClient {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
    /// Who and what its calls are, for their trace spans (`traced.rs`).
    label: traced::Label,
}

impl IdpClient {
    /// Builds a client trusting the system roots plus `ca_file`, with a per-call timeout.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Self, HttpError> {
        let tls = crate::transport::tls::client_config(ca_file, None)
            .map_err(|e| HttpError::Tls(e.to_string()))?;
        let mut http = HttpConnector::new();
        // hyper-rustls decides the scheme; the inner connector must accept https URIs.
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(IdpClient {
            client,
            timeout,
            max_body: DEFAULT_MAX_BODY,
            label: traced::Label::default(),
        })
    }

    /// Names the provider in its calls' trace spans (`portcullis.provider`).
    pub fn for_provider(mut self, provider: std::sync::Arc<str>) -> Self {
        self.label.provider = Some(provider);
        self
    }

    /// A clone whose calls' trace spans are named `idp <call>` (`jwks`,
    /// `introspection`); without one the name comes from the request's shape.
    pub fn for_call(&self, call: &'static str) -> Self {
        let mut c = self.clone();
        c.label.call = Some(call);
        c
    }

    /// Replaces the response-size cap (default [`DEFAULT_MAX_BODY`]).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// `GET url` with the given `Accept`.
    pub async fn get(&self, url: &str, accept: &str) -> Result<IdpResponse, HttpError> {
        let call = self.label.call.unwrap_or("discovery");
        self.send(call, Method::GET, url, accept, None, Bytes::new(), None)
            .await
    }

    /// `GET url` with `Authorization: Bearer <token>` (userinfo).
    pub async fn get_bearer(
        &self,
        url: &str,
        accept: &str,
        token: &str,
    ) -> Result<IdpResponse, HttpError> {
        let mut auth = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| HttpError::BadBody("token is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let call = self.label.call.unwrap_or("userinfo");
        self.send(
            call,
            Method::GET,
            url,
            accept,
            Some(auth),
            Bytes::new(),
            None,
        )
        .await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body and, for
    /// client_secret_basic, HTTP Basic credentials (each part form-urlencoded first, as
    /// RFC 6749 §2.3.1 requires). Accepts JSON.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic_auth: Option<(&str, &str)>,
    ) -> Result<IdpResponse, HttpError> {
        let auth = basic_auth.map(|(id, secret)| basic_auth_value(id, secret));
        let body = Bytes::from(form_encode(form));
        let call = self.label.call.unwrap_or_else(|| traced::form_call(form));
        self.send(
            call,
            Method::POST,
            url,
            "application/json",
            auth,
            body,
            Some(FORM_CONTENT_TYPE),
        )
        .await
    }

    /// One call, in a client span `idp <call>` when the request is sampled.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        what: &'static str,
        method: Method,
        url: &str,
        accept: &str,
        auth: Option<HeaderValue>,
        body: Bytes,
        content_type: Option<&'static str>,
    ) -> Result<IdpResponse, HttpError> {
        let uri = checked_uri(url)?;
        let span = self.label.start(what, &method, &uri);
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(ACCEPT, accept)
            .header(USER_AGENT, UA);
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth);
        }
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|_| HttpError::BadUrl("request could not be built"))?;
        let max = self.max_body;
        let call = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    HttpError::Connect(error_chain(&e))
                } else {
                    HttpError::BadBody(error_chain(&e))
                }
            })?;
            let (parts, incoming) = response.into_parts();
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > max as u64) {
                return Err(HttpError::TooLarge);
            }
            let collected = Limited::new(incoming, max).collect().await.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::TooLarge
                } else {
                    HttpError::BadBody(e.to_string())
                }
            })?;
            Ok(IdpResponse {
                status: parts.status,
                headers: parts.headers,
                body: collected.to_bytes(),
            })
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        };
        traced::end(span, &result);
        result
    }
}

/// hyper's top-level errors say little ("client error (Connect)"); the cause chain says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Parses `url`, refusing relative URLs and plain http except to loopback hosts (tests and
/// sidecar IdPs): a token or client secret must never cross a network in clear text.
fn checked_uri(url: &str) -> Result<Uri, HttpError> {
    let uri: Uri = url.parse().map_err(|_| HttpError::BadUrl("not a URL"))?;
    let host = uri.host().ok_or(HttpError::BadUrl("no host"))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(HttpError::BadUrl("plain http to a non-loopback host")),
        _ => Err(HttpError::BadUrl("scheme must be https")),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Basic base64(urlenc(id) ":" urlenc(secret))`, marked sensitive so hyper never logs it.
fn basic_auth_value(id: &str, secret: &str) -> HeaderValue {
    let mut raw = String::with_capacity(id.len() + secret.len() + 8);
    form_escape_into(&mut raw, id);
    raw.push(':');
    form_escape_into(&mut raw, secret);
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
    // base64 output is always a valid header value; the fallback is unreachable.
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// Serialises pairs as `application/x-www-form-urlencoded` (WHATWG URL §5.2).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape_into(&mut out, k);
        out.push('=');
        form_escape_into(&mut out, v);
    }
    out
}

fn form_escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
mod tests;
