//! Phase 9: the response phase. Every response the gateway sends (the upstream's, an own
//! endpoint's, an error's) passes here exactly once, from `pipeline::handle`, and the
//! response-side rules live here only: the gateway's cookies guarded against upstreams,
//! the request id, the cookies the request left to set, a CORS route's Access-Control-*
//! fields (`cors::apply`). An upstream's response comes in one shape (every field it sent
//! in the `HeaderMap`, `transport::upstream`), so no rule looks anywhere else. It never
//! chooses a status code (`error::respond` does).

use http::header::SET_COOKIE;
use http::{HeaderValue, Response};
use http_body_util::Either;

use super::request_id::X_REQUEST_ID;
use super::ResBody;
use crate::runtime::{RouteRuntime, Runtime};
use crate::session::cookie::sets_own_cookie;

/// What the request leaves for its response, whatever the response is.
pub struct Outgoing {
    /// The request id (also sent upstream).
    pub request_id: HeaderValue,
    /// Cookies to set (session refresh, login, deletions).
    pub set_cookies: Vec<HeaderValue>,
    /// The request's `Origin`, for the route's CORS fields.
    pub origin: Option<HeaderValue>,
}

/// Applies the response-side rules to `resp`; `route` is the matched route, if any.
pub fn finish(
    rt: &Runtime,
    route: Option<&RouteRuntime>,
    resp: &mut Response<ResBody>,
    out: Outgoing,
) {
    let from_upstream = matches!(resp.body(), Either::Left(_));
    if let (true, Some(route)) = (from_upstream, route) {
        guard_cookies(rt, route, resp.headers_mut());
    }
    if let Some(cors) = route.and_then(|r| r.config.cors.as_ref()) {
        super::cors::apply(cors, out.origin.as_ref(), resp, from_upstream);
    }
    let headers = resp.headers_mut();
    headers.insert(X_REQUEST_ID, out.request_id);
    for cookie in out.set_cookies {
        headers.append(SET_COOKIE, cookie);
    }
}

/// Drops every upstream `Set-Cookie` that would set or delete one of the gateway's
/// cookies (`session::cookie::sets_own_cookie`): counted per route, logged once per
/// route and configuration.
fn guard_cookies(rt: &Runtime, route: &RouteRuntime, headers: &mut http::HeaderMap) {
    let base = rt.config.session.cookie_name.as_str();
    let owned = |v: &HeaderValue| sets_own_cookie(base, v.as_bytes());
    if !headers.get_all(SET_COOKIE).iter().any(owned) {
        return;
    }
    let all: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    headers.remove(SET_COOKIE);
    let mut dropped = 0u64;
    for v in all {
        if owned(&v) {
            dropped += 1;
            continue;
        }
        headers.append(SET_COOKIE, v);
    }
    route.metrics.cookies_dropped.inc_by(dropped);
    if !route
        .cookie_guard_logged
        .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            route = &*route.name,
            cookie = base,
            "upstream response set or deleted a gateway cookie; dropped (counted in portcullis_upstream_cookies_dropped_total, logged once per route)"
        );
    }
}
