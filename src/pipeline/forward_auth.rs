//! Forward-auth: `<prefix>/auth` answers the authorization sub-request of a front proxy
//! (nginx `auth_request`, Traefik `forwardAuth`, Envoy/Istio `ext_authz` HTTP service)
//! with the same route match, authentication and `allow` policy as proxy mode.
//!
//! The original request is described by headers the front proxy sets — `X-Original-Method`
//! / `X-Original-URI` (nginx, as configured in `deploy/nginx/`), `X-Forwarded-Method` /
//! `X-Forwarded-Uri` / `X-Forwarded-Host` / `X-Forwarded-Proto` (Traefik) — or, for Envoy's
//! `path_prefix`, by the path after `<prefix>/auth`. Those headers are believed ONLY from
//! a peer in `server.trusted_proxies`: any other caller gets 403 whatever it sends, so a
//! client can never ask "would `/public` be allowed?" on behalf of another path.
//!
//! Answers: 200 (empty body) with the route's identity headers and any session
//! `Set-Cookie` on the RESPONSE, for the front proxy to copy; 401 (for browser
//! navigations on session routes with `Location` and `X-Auth-Request-Redirect` naming the
//! login URL — never a 302, which nginx would turn into a 500); 403 for policy refusals,
//! untrusted callers and paths no route covers (deny by default). Status codes still come
//! from `error::respond`; this module only picks the `GatewayError`. It never forwards
//! anything upstream and never echoes a request header back.

use crate::transport::upstream::ReqBody;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use http_body_util::Full;

use super::authenticate::{self, AuthContext};
use super::machine::RequestView;
use super::request_id::X_REQUEST_ID;
use super::{authorize, endpoints, hygiene, ConnInfo};
use crate::auth::AuthError;
use crate::config::EscapedSlashes;
use crate::error::{respond, ErrorContext, GatewayError};
use crate::idp::form_encode;
use crate::metrics::Metrics;
use crate::routing::request_path;
use crate::runtime::Runtime;

/// nginx: the original request method (`proxy_set_header X-Original-Method $request_method`).
pub const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// nginx: the original request target (`proxy_set_header X-Original-URI $request_uri`).
pub const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
/// Traefik: the original request method.
pub const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
/// Traefik: the original request target.
pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
/// The original host (Traefik sets it; the nginx example sets it too).
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The original scheme.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// On a 401 for a browser navigation: where to send the browser to sign in (the nginx
/// example copies it with `auth_request_set` and redirects from `error_page 401`).
pub const X_AUTH_REQUEST_REDIRECT: HeaderName = HeaderName::from_static("x-auth-request-redirect");

/// The endpoint's own path under the prefix.
const AUTH_PATH: &str = "/auth";

/// Whether `sub` (the path after the prefix) is the forward-auth endpoint: `/auth`, or
/// `/auth/<original path>` as Envoy's `ext_authz` `path_prefix` sends it.
pub fn is_endpoint(sub: &str) -> bool {
    sub == AUTH_PATH
        || sub
            .strip_prefix(AUTH_PATH)
            .is_some_and(|r| r.starts_with('/'))
}

/// The request the front proxy is asking about.
struct Original {
    method: Method,
    /// Path and query as the client sent them (not normalised).
    target: String,
    host: Option<String>,
    https: bool,
}

/// Answers one forward-auth sub-request (`sub` is `/auth` or `/auth/<path>`).
pub async fn handle(
    rt: &Runtime,
    metrics: &Metrics,
    conn: &ConnInfo,
    peer_trusted: bool,
    req: &Request<ReqBody>,
    sub: &str,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    if !peer_trusted {
        return Err(GatewayError::Forbidden(
            "forward-auth caller is not a trusted proxy",
        ));
    }
    let original = original_request(conn, req, sub)?;
    let raw_path = original.target.split(['?', '#']).next().unwrap_or("/");
    // The front proxy forwards the path as the client wrote it, never a decoded form:
    // `decode` is judged as `keep` here, so a path whose decoded reading takes another
    // route is refused instead of being allowed on a reading the upstream never gets.
    let mode = match rt.config.server.escaped_slashes {
        EscapedSlashes::Decode => EscapedSlashes::Keep,
        mode => mode,
    };
    let path = request_path(raw_path, mode)
        .map_err(|_| GatewayError::BadRequest("invalid original request path"))?;
    // Deny by default: a path no route covers is never admitted (nginx would turn a 404
    // from the auth service into a 500).
    let index = rt
        .table
        .find_unambiguous(|| original.host.as_deref(), &path)
        .map_err(|e| GatewayError::BadRequest(e.why()))?
        .ok_or(GatewayError::Forbidden(
            "no route for the forward-auth request",
        ))?;
    let route = rt
        .routes
        .get(index)
        .ok_or_else(|| GatewayError::Internal("route index out of range".into()))?;

    let mut set_cookies: Vec<HeaderValue> = Vec::new();
    // `navigation: false`: a missing session must come back as 401, never as a redirect.
    // The front proxy never sends the body: only the original query can be checked.
    let query = original
        .target
        .split('#')
        .next()
        .and_then(|t| t.split_once('?'))
        .map(|(_, q)| q);
    let mut ctx = AuthContext {
        metrics,
        navigation: false,
        set_cookies: &mut set_cookies,
        original: Some(RequestView {
            method: &original.method,
            raw_path,
            https: original.https,
            host: original.host.as_deref(),
        }),
        tls: conn.tls,
        query,
    };
    let outcome = match authenticate::authenticate(rt, route, &path, req, &mut ctx).await {
        Ok(Some(a)) => authorize::authorize(route, &a.principal).map(|()| Some(a)),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    let mut resp = match outcome {
        Ok(authenticated) => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            if let Some(a) = &authenticated {
                let h = resp.headers_mut();
                route.identity.apply(&a.principal, h);
                if route.config.pass_access_token {
                    if let Some(token) = &a.session_access_token {
                        if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                            v.set_sensitive(true);
                            h.insert(AUTHORIZATION, v);
                        }
                    }
                }
            }
            resp
        }
        Err(err) => {
            let request_id = req
                .headers()
                .get(X_REQUEST_ID)
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("-"));
            let mut resp = respond(
                &err,
                &ErrorContext {
                    request_id: &request_id,
                    realm: Some(&route.name),
                    schemes: rt.accepted_schemes(route),
                    html: false,
                    // Never gRPC-shaped: a denial must stay a 401/403 here, since a
                    // proxy's auth_request reads any 2xx as "allowed".
                    grpc: None,
                    resource_metadata: route.machine.resource_metadata.as_deref(),
                },
            );
            let wants_login = matches!(err, GatewayError::Auth(AuthError::Missing))
                && route.config.accept.session
                && is_navigation(&original.method, req.headers());
            if wants_login {
                if let Some(url) = login_url(rt, conn, peer_trusted, req, &original) {
                    resp.headers_mut().insert(LOCATION, url.clone());
                    resp.headers_mut().insert(X_AUTH_REQUEST_REDIRECT, url);
                }
            }
            resp
        }
    };
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in set_cookies {
        h.append(SET_COOKIE, c);
    }
    Ok(resp)
}

/// Reads the original method, target, host and scheme (the caller is a trusted proxy).
fn original_request(
    conn: &ConnInfo,
    req: &Request<ReqBody>,
    sub: &str,
) -> Result<Original, GatewayError> {
    let h = req.headers();
    let envoy_target = sub
        .strip_prefix(AUTH_PATH)
        .filter(|p| p.starts_with('/'))
        .map(|p| match req.uri().query() {
            Some(q) => format!("{p}?{q}"),
            None => p.to_owned(),
        });
    // Every source present must agree: a proxy forwards the client's own headers to the
    // auth service, so a client-sent `X-Forwarded-Uri` behind nginx (or `X-Original-URI`
    // behind Traefik) must never win over what the proxy itself wrote.
    let target = agree(
        [
            single(h, &X_ORIGINAL_URI)?.map(str::to_owned),
            single(h, &X_FORWARDED_URI)?.map(str::to_owned),
            envoy_target,
        ],
        "conflicting original URIs",
    )?
    .ok_or(GatewayError::BadRequest(
        "forward-auth request without the original URI",
    ))?;
    if !target.starts_with('/') {
        return Err(GatewayError::BadRequest("original URI must be origin-form"));
    }
    let method = agree(
        [
            single(h, &X_ORIGINAL_METHOD)?.map(str::to_owned),
            single(h, &X_FORWARDED_METHOD)?.map(str::to_owned),
        ],
        "conflicting original methods",
    )?;
    let method = match method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| GatewayError::BadRequest("invalid original method"))?,
        None => req.method().clone(),
    };
    // A list means several proxies wrote it; the first entry is the client-facing one.
    let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_owned();
    let host = single(h, &X_FORWARDED_HOST)?
        .map(first)
        .or_else(|| hygiene::request_host(req).map(str::to_owned))
        .filter(|s| !s.is_empty());
    let https = match single(h, &X_FORWARDED_PROTO)?.map(first) {
        Some(p) => p.eq_ignore_ascii_case("https"),
        None => conn.tls,
    };
    Ok(Original {
        method,
        target,
        host,
        https,
    })
}

/// The one value every present source gives; different values are refused.
fn agree<const N: usize>(
    sources: [Option<String>; N],
    conflict: &'static str,
) -> Result<Option<String>, GatewayError> {
    let mut found: Option<String> = None;
    for v in sources.into_iter().flatten() {
        match &found {
            Some(f) if *f != v => return Err(GatewayError::BadRequest(conflict)),
            Some(_) => {}
            None => found = Some(v),
        }
    }
    Ok(found)
}

/// The header's value when it is present once and valid text; two values are ambiguous.
fn single<'h>(h: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, GatewayError> {
    let mut values = h.get_all(name).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GatewayError::BadRequest("repeated forward-auth header"));
    }
    v.to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| GatewayError::BadRequest("forward-auth header is not text"))
}

/// The proxy-mode rule (`hygiene::is_navigation`) applied to the ORIGINAL method: the
/// sub-request's own method says nothing (nginx, Traefik and Envoy differ).
fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    hygiene::navigation(method, headers)
}

/// `<public origin><prefix>/start?rd=<original URL>`.
fn login_url(
    rt: &Runtime,
    conn: &ConnInfo,
    peer_trusted: bool,
    req: &Request<ReqBody>,
    original: &Original,
) -> Option<HeaderValue> {
    let sso = rt.sso.as_ref()?;
    let origin = endpoints::external_origin(rt, sso, conn, peer_trusted, req);
    let rd = match &original.host {
        Some(host) => {
            let scheme = if original.https { "https" } else { "http" };
            format!("{scheme}://{host}{}", original.target)
        }
        None => original.target.clone(),
    };
    let url = format!(
        "{origin}{}/start?{}",
        rt.config.server.proxy_prefix,
        form_encode(&[("rd", &rd)])
    );
    HeaderValue::from_str(&url).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::ACCEPT;

    #[test]
    fn endpoint_paths() {
        assert!(is_endpoint("/auth"));
        assert!(is_endpoint("/auth/app/x"));
        assert!(!is_endpoint("/authx"));
        assert!(!is_endpoint("/start"));
    }

    #[test]
    fn navigation_follows_the_original_method() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("text/html"));
        assert!(is_navigation(&Method::GET, &h));
        assert!(!is_navigation(&Method::POST, &h));
        h.insert(
            "x-requested-with",
            HeaderValue::from_static("XMLHttpRequest"),
        );
        assert!(!is_navigation(&Method::GET, &h));
    }

    #[test]
    fn repeated_headers_are_ambiguous() {
        let mut h = HeaderMap::new();
        h.append(X_FORWARDED_URI, HeaderValue::from_static("/a"));
        assert_eq!(single(&h, &X_FORWARDED_URI).ok().flatten(), Some("/a"));
        h.append(X_FORWARDED_URI, HeaderValue::from_static("/b"));
        assert!(single(&h, &X_FORWARDED_URI).is_err());
    }
}
