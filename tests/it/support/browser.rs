//! A cookie-jar HTTP/1.1 client that behaves like a browser for the SSO tests: it keeps
//! cookies per host (like a browser: not per port, and the gateway and the FakeIdp both
//! live on 127.0.0.1), honours `Max-Age`, `Path` and `Secure`, records every `Set-Cookie`
//! with its attributes, and follows redirects by hand so a test can inspect each hop.
//!
//! Requests are either navigations (`Accept: text/html…`, `Sec-Fetch-Mode: navigate`) or
//! API calls (`Accept: application/json`, `Sec-Fetch-Mode: cors`). With
//! [`Browser::behind_tls_proxy`], `https://` URLs are sent as plain http to the same
//! port, as a TLS-terminating proxy in front of the gateway would, and count as secure.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

mod cookie;
mod url;

pub use cookie::Cookie;
pub use url::{enc, origin_of, path_of, query_of, resolve};
use url::{is_local, path_matches};

/// How many redirects [`Browser::follow`] takes at most (browsers allow ~20).
pub const MAX_REDIRECTS: usize = 20;

/// What kind of request a browser sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A top-level navigation.
    Navigate,
    /// `fetch()`/XHR asking for JSON.
    Api,
    /// Only the headers the caller passes.
    Bare,
}

/// One request and its buffered answer.
#[derive(Debug, Clone)]
pub struct Hop {
    /// Method sent.
    pub method: String,
    /// Absolute URL requested.
    pub url: String,
    /// Status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// Every `Set-Cookie` of the response, parsed.
    pub set_cookies: Vec<Cookie>,
    /// The `Cookie` header sent, if any.
    pub sent_cookie: Option<String>,
}

impl Hop {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The raw `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    /// `Location` resolved against this hop's URL.
    pub fn next_url(&self) -> Option<String> {
        self.location().map(|l| resolve(&self.url, l))
    }
    /// Whether this is a redirect with a `Location`.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308) && self.location().is_some()
    }
    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} → {}: not JSON ({e}): {}",
                self.method,
                self.url,
                self.status,
                self.text()
            )
        })
    }
    /// The echo upstream's view of one request header (first value).
    pub fn echoed(&self, name: &str) -> Option<String> {
        self.json()["headers"][name][0].as_str().map(str::to_owned)
    }
    /// The query parameters of this hop's URL.
    pub fn query(&self) -> Vec<(String, String)> {
        query_of(&self.url)
    }
    /// The `Set-Cookie` for `name` in this response.
    pub fn set_cookie(&self, name: &str) -> Option<&Cookie> {
        self.set_cookies.iter().find(|c| c.name == name)
    }
    /// One line for assertion messages.
    pub fn describe(&self) -> String {
        let loc = self
            .location()
            .map(|l| format!(" → {l}"))
            .unwrap_or_default();
        format!("{} {} = {}{loc}", self.method, self.url, self.status)
    }
}

/// The hops of one followed navigation.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Every request made, in order.
    pub hops: Vec<Hop>,
    /// A redirect target that was not fetched because it leaves 127.0.0.1/localhost.
    pub left_to: Option<String>,
}

impl Chain {
    /// The last hop fetched.
    pub fn last(&self) -> &Hop {
        self.hops.last().expect("at least one hop")
    }
    /// Where the chain ended: the unfetched off-host target, else the last URL fetched.
    pub fn final_url(&self) -> String {
        self.left_to
            .clone()
            .unwrap_or_else(|| self.last().url.clone())
    }
    /// The first hop whose URL starts with `prefix`.
    pub fn hop_to(&self, prefix: &str) -> Option<&Hop> {
        self.hops.iter().find(|h| h.url.starts_with(prefix))
    }
    /// Every hop, one per line, for assertion messages.
    pub fn describe(&self) -> String {
        let mut s: Vec<String> = self.hops.iter().map(Hop::describe).collect();
        if let Some(l) = &self.left_to {
            s.push(format!("(not followed: {l})"));
        }
        s.join("\n")
    }
}

/// A browser: one cookie jar, one connection pool.
#[derive(Clone)]
pub struct Browser {
    jar: Arc<Mutex<Vec<(String, Cookie)>>>,
    client: Client<HttpConnector, Full<Bytes>>,
    tls_proxy: bool,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    /// An empty browser.
    pub fn new() -> Browser {
        Browser {
            jar: Arc::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            tls_proxy: false,
        }
    }

    /// A browser reaching the gateway through a TLS-terminating proxy (see module doc).
    pub fn behind_tls_proxy() -> Browser {
        Browser {
            tls_proxy: true,
            ..Browser::new()
        }
    }

    /// A second browser with a copy of this one's cookies (later changes are separate).
    pub fn fork(&self) -> Browser {
        let jar = self.lock().clone();
        Browser {
            jar: Arc::new(Mutex::new(jar)),
            ..Browser::new()
        }
        .with_tls(self.tls_proxy)
    }

    fn with_tls(mut self, tls: bool) -> Browser {
        self.tls_proxy = tls;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Cookie)>> {
        self.jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every cookie stored for 127.0.0.1.
    pub fn cookies(&self) -> Vec<Cookie> {
        self.lock().iter().map(|(_, c)| c.clone()).collect()
    }

    /// The stored cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<Cookie> {
        self.cookies().into_iter().find(|c| c.name == name)
    }

    /// Names of stored cookies starting with `prefix`, sorted.
    pub fn names_with(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .cookies()
            .into_iter()
            .map(|c| c.name)
            .filter(|n| n.starts_with(prefix))
            .collect();
        v.sort();
        v
    }

    /// Stores `name=value` for 127.0.0.1 as a script or an attacker would (Path=/).
    pub fn put_cookie(&self, name: &str, value: &str) {
        let c = Cookie::parse(&format!("{name}={value}; Path=/")).expect("cookie");
        let mut jar = self.lock();
        jar.retain(|(_, k)| k.name != name);
        jar.push(("127.0.0.1".into(), c));
    }

    /// Removes cookie `name`.
    pub fn remove_cookie(&self, name: &str) {
        self.lock().retain(|(_, c)| c.name != name);
    }

    /// One navigation GET (no redirect following).
    pub async fn get(&self, url: &str) -> Hop {
        self.request("GET", url, Kind::Navigate, &[], Bytes::new())
            .await
    }

    /// One API GET (`Accept: application/json`).
    pub async fn api_get(&self, url: &str) -> Hop {
        self.request("GET", url, Kind::Api, &[], Bytes::new()).await
    }

    /// Navigates to `url` and follows up to [`MAX_REDIRECTS`] redirects on 127.0.0.1 or
    /// localhost; a target elsewhere is recorded in [`Chain::left_to`], not fetched.
    pub async fn follow(&self, url: &str) -> Chain {
        let mut hops = Vec::new();
        let mut next = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let hop = self.get(&next).await;
            let target = hop.is_redirect().then(|| hop.next_url()).flatten();
            hops.push(hop);
            match target {
                None => {
                    return Chain {
                        hops,
                        left_to: None,
                    }
                }
                Some(t) if !is_local(&t) || (t.starts_with("https://") && !self.tls_proxy) => {
                    return Chain {
                        hops,
                        left_to: Some(t),
                    }
                }
                Some(t) => next = t,
            }
        }
        panic!(
            "more than {MAX_REDIRECTS} redirects:\n{}",
            Chain {
                hops,
                left_to: None
            }
            .describe()
        );
    }

    /// Sends one request with the jar's cookies and stores the response's cookies.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        kind: Kind,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Hop {
        let secure = url.starts_with("https://");
        let wire_url = if secure && self.tls_proxy {
            format!("http://{}", &url["https://".len()..])
        } else {
            url.to_owned()
        };
        let path = path_of(url);
        let cookie = self.cookie_header(&path, secure);
        let mut req = Request::builder().method(method).uri(&wire_url);
        let defaults: &[(&str, &str)] = match kind {
            Kind::Navigate => &[
                (
                    "accept",
                    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                ),
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-dest", "document"),
            ],
            Kind::Api => &[("accept", "application/json"), ("sec-fetch-mode", "cors")],
            Kind::Bare => &[],
        };
        for (k, v) in defaults {
            if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                req = req.header(*k, *v);
            }
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(c) = &cookie {
            req = req.header("cookie", c.as_str());
        }
        let req = req.body(Full::new(body)).expect("request");
        let resp = self
            .client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        let set_cookies: Vec<Cookie> = parts
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(Cookie::parse)
            .collect();
        for c in &set_cookies {
            self.store(c.clone(), secure);
        }
        Hop {
            method: method.to_owned(),
            url: url.to_owned(),
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            set_cookies,
            sent_cookie: cookie,
        }
    }

    fn store(&self, c: Cookie, secure_origin: bool) {
        // Browsers refuse Secure cookies from insecure origins and `__Host-` cookies
        // without Secure / Path=/ or with Domain.
        if c.secure && !secure_origin {
            return;
        }
        if c.name.starts_with("__Host-") && (!c.secure || c.path != "/" || c.domain.is_some()) {
            return;
        }
        let mut jar = self.lock();
        jar.retain(|(_, k)| !(k.name == c.name && k.path == c.path));
        if !c.is_deletion() {
            jar.push(("127.0.0.1".into(), c));
        }
    }

    fn cookie_header(&self, path: &str, secure: bool) -> Option<String> {
        let jar = self.lock();
        let pairs: Vec<String> = jar
            .iter()
            .filter(|(_, c)| path_matches(path, &c.path) && (secure || !c.secure))
            .map(|(_, c)| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}
