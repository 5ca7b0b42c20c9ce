//! Distributed tracing on the request path (`tracing:`; the machinery is `otel`): the
//! request's trace and its server span's attributes, the `traceparent`/`tracestate` the
//! upstream gets (always the gateway's, replacing whatever the client sent) with the
//! upstream call's client span, and the end of the server span with the response.
//!
//! Attributes follow the OpenTelemetry HTTP semantic conventions; the URL is recorded
//! without its query, and no header value but `User-Agent` is (never a token or cookie).
//! An unsampled request builds no attribute at all.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, Version};

use super::ConnInfo;
use crate::error::GatewayError;
use crate::otel::w3c::{TRACEPARENT, TRACESTATE};
use crate::otel::{self, Child, Recorder, RequestTrace, SpanKind};
use crate::proxy::slab;
use crate::runtime::{RouteRuntime, Runtime};
use crate::transport::upstream::{Added, ReqBody, UpstreamBody};

/// Longest `User-Agent` recorded.
const MAX_USER_AGENT: usize = 256;

/// The request's trace; `None` without `tracing:`.
pub fn begin(
    rt: &Runtime,
    conn: &ConnInfo,
    peer_trusted: bool,
    request_id: &HeaderValue,
    req: &Request<ReqBody>,
) -> Option<RequestTrace> {
    let mut t = rt.tracer.as_ref()?.begin(req.headers(), peer_trusted);
    if !t.sampled() {
        return Some(t);
    }
    t.attr("http.request.method", method_name(req.method()));
    if !is_known(req.method()) {
        t.attr("http.request.method_original", req.method().to_string());
    }
    t.attr("url.scheme", if conn.tls { "https" } else { "http" });
    t.attr("url.path", req.uri().path().to_owned());
    if let Some(host) = super::hygiene::request_host(req) {
        let (name, port) = split_host(host);
        t.attr("server.address", name.to_owned());
        if let Some(port) = port {
            t.attr("server.port", i64::from(port));
        }
    }
    t.attr("client.address", conn.peer.ip().to_string());
    t.attr("network.protocol.version", protocol(req.version()));
    if let Some(ua) = req.headers().get(http::header::USER_AGENT) {
        let ua = String::from_utf8_lossy(ua.as_bytes());
        t.attr(
            "user_agent.original",
            truncate(&ua, MAX_USER_AGENT).to_owned(),
        );
    }
    if let Ok(id) = request_id.to_str() {
        t.attr("portcullis.request_id", id.to_owned());
    }
    Some(t)
}

/// Runs `fut` (a sampled request's phases) where identity-provider and Redis calls find
/// the request's recorder; an unsampled request awaits its phases as they are. Not an
/// `async fn`, which would hold `fut` twice (see [`otel::scope`]).
pub fn scoped<F: Future>(rec: Arc<Recorder>, fut: F) -> impl Future<Output = F::Output> {
    otel::scope(rec, fut)
}

/// Sets the upstream's `traceparent` (and the trusted peer's `tracestate`, or none),
/// replacing the client's, and starts the upstream call's client span when sampled.
pub fn to_upstream(
    trace: Option<&RequestTrace>,
    route: &RouteRuntime,
    path: &str,
    req: &mut Request<ReqBody>,
    added: &mut Added,
) -> Option<Child> {
    let t = trace?;
    let span = t.child(format!("upstream {}", route.name), SpanKind::Client);
    let span = span.map(|mut s| {
        let up = &route.config.upstream;
        s.attr("http.request.method", method_name(req.method()));
        s.attr("portcullis.route", route.name.to_string());
        let (host, port) = split_host(up.authority.as_str());
        s.attr("server.address", host.to_owned());
        if let Some(port) = port {
            s.attr("server.port", i64::from(port));
        }
        let scheme = if up.https { "https" } else { "http" };
        s.attr(
            "url.full",
            format!("{scheme}://{}{}{path}", up.authority, up.base_path),
        );
        s
    });
    // The client's copies go (the common case, none, costs a probe each, no insert);
    // the trace's go to `added`, written after the request's fields.
    let headers = req.headers_mut();
    headers.remove(TRACEPARENT);
    headers.remove(TRACESTATE);
    if let Ok(v) = slab::header_value(&t.traceparent(span.as_ref())) {
        added.push(TRACEPARENT, v);
    }
    if let Some(v) = t.trace_state().and_then(|s| HeaderValue::from_str(s).ok()) {
        added.push(TRACESTATE, v);
    }
    span
}

/// Ends the upstream call's span (at the response head: the body streams on).
pub fn upstream_done(span: Option<Child>, result: &Result<Response<UpstreamBody>, GatewayError>) {
    let Some(mut span) = span else { return };
    match result {
        Ok(resp) => {
            let status = resp.status();
            span.attr("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.attr("error.type", status.as_str().to_owned());
                span.fail(format!("HTTP {}", status.as_u16()));
            }
        }
        Err(e) => {
            let kind = e.upstream_kind().unwrap_or(e.code());
            span.attr("error.type", kind);
            span.fail(kind);
        }
    }
    span.end();
}

/// What became of the request: `forwarded`, `answered` (by the gateway itself) or the
/// failure's code (`unauthorized`, `forbidden`, `bad_gateway`…).
pub fn outcome(trace: Option<&mut RequestTrace>, error: Option<&GatewayError>, upstream: bool) {
    let Some(t) = trace.filter(|t| t.sampled()) else {
        return;
    };
    let outcome = match (error, upstream) {
        (Some(e), _) => e.code(),
        (None, true) => "forwarded",
        (None, false) => "answered",
    };
    t.attr("portcullis.outcome", outcome);
}

/// Ends the server span when the response has ended: `<METHOD> <route>` with the
/// status; a 5xx marks it failed (a 4xx is the client's, not the server span's, error).
pub fn finish(
    t: &mut RequestTrace,
    method: &Method,
    route: Option<&RouteRuntime>,
    status: u16,
    error: Option<&GatewayError>,
) {
    if !t.sampled() {
        return;
    }
    t.attr("http.response.status_code", status);
    if let Some(r) = route {
        t.attr("portcullis.route", r.name.to_string());
        t.attr("http.route", r.config.path_prefix.clone());
    }
    let failed = (500..600).contains(&status).then(|| match error {
        Some(e) => Cow::Borrowed(e.code()),
        None => Cow::Owned(status.to_string()),
    });
    if let Some(kind) = &failed {
        t.attr("error.type", kind.clone().into_owned());
    }
    let name = match route {
        Some(r) => format!("{} {}", method_name(method), r.name),
        None => method_name(method).to_owned(),
    };
    t.finish(Cow::Owned(name), failed);
}

fn is_known(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::PATCH
            | Method::OPTIONS
            | Method::CONNECT
            | Method::TRACE
    )
}

/// The method, or `_OTHER` for one outside RFC 9110 + PATCH (semantic conventions: keeps
/// span names and attributes low-cardinality).
fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `host[:port]` → host (brackets kept off an IPv6 literal) and port.
fn split_host(h: &str) -> (&str, Option<u16>) {
    if let Some(rest) = h.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (h, None),
        };
    }
    match h.rsplit_once(':') {
        Some((name, port)) => (name, port.parse().ok()),
        None => (h, None),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_into_name_and_port() {
        assert_eq!(split_host("a.example:8443"), ("a.example", Some(8443)));
        assert_eq!(split_host("a.example"), ("a.example", None));
        assert_eq!(split_host("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host("[::1]"), ("::1", None));
        assert_eq!(split_host("[::1"), ("[::1", None));
    }

    #[test]
    fn odd_methods_are_other_and_long_agents_cut_on_a_char() {
        let m = Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET);
        assert_eq!(method_name(&m), "_OTHER");
        assert!(!is_known(&m));
        assert_eq!(truncate("ééé", 3), "é");
    }
}
