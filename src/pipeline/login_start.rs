//! `<prefix>/start`: which identity provider a browser signs in with, then the login
//! itself (`oidc::login::start`: state, nonce, PKCE, attempt cookie).
//!
//! The route the browser wants (where `rd` leads) decides which providers are possible:
//! a route that signs browsers in offers its `providers`; `?provider=` must name one of
//! them (a link cannot log a user in through a provider the route does not list), a
//! `login_hint` whose domain one of them lists picks it, one alone is taken, and with
//! several the chooser page (`oidc::chooser`) lets the user pick. Without such a route
//! (no `rd`, or one to a bearer or public route) every provider with client credentials
//! is possible and, unasked, the route's own or the first is taken, as before routes
//! could list several. The session check of every later request is what finally holds:
//! a session from a provider a route does not list never counts there.

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;

use crate::config::AuthMode;
use crate::error::GatewayError;
use crate::oidc::chooser::{self, Choice, Page};
use crate::oidc::login;
use crate::oidc::sso::Sso;
use crate::oidc::urlenc::query_get;
use crate::pipeline::hygiene::{request_host, request_path};
use crate::runtime::{RouteRuntime, Runtime};
use crate::transport::upstream::ReqBody;

/// What `start` does.
#[derive(Debug, PartialEq, Eq)]
enum Pick {
    /// Sign in at the provider with this index; what picked it (a metric label).
    One(usize, &'static str),
    /// Show the chooser with these providers.
    Chooser(Vec<usize>),
}

/// Serves `<prefix>/start`. `return_to` is the judged-safe `rd` (or `/`).
pub fn handle(
    rt: &Runtime,
    sso: &Sso,
    req: &Request<ReqBody>,
    return_to: String,
    redirect_uri: &str,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let query = req.uri().query();
    let hint = query_get(query, "login_hint");
    let hint = hint.as_deref().and_then(chooser::usable_hint);
    let asked = query_get(query, "provider");
    let route = route_of(rt, req, &return_to);
    match pick(rt, sso, route, asked.as_deref(), hint)? {
        Pick::One(index, picked_by) => {
            let provider = rt
                .providers
                .get(index)
                .ok_or_else(|| GatewayError::Internal("provider index out of range".into()))?;
            rt.metrics
                .login_starts
                .with_label_values(&[provider.name(), picked_by])
                .inc();
            login::start(sso, provider, req.headers(), redirect_uri, return_to, hint)
        }
        Pick::Chooser(indexes) => {
            let route_name = route.map_or("-", |r| &*r.name);
            rt.metrics
                .login_choosers
                .with_label_values(&[route_name])
                .inc();
            chooser_page(rt, &indexes, &return_to, hint)
        }
    }
}

/// The route `return_to` leads to: on this request's host when it is a path, on its own
/// host when it is an absolute URL (an allowed domain; forward-auth sends those). The
/// path is read as a request's would be (dot segments, escapes).
fn route_of<'r>(
    rt: &'r Runtime,
    req: &Request<ReqBody>,
    return_to: &str,
) -> Option<&'r RouteRuntime> {
    let index = if return_to.starts_with('/') {
        let raw = return_to.split(['?', '#']).next().unwrap_or("/");
        let path = request_path(rt, raw).ok()?;
        rt.table.find(request_host(req), &path)
    } else {
        let uri: Uri = return_to.parse().ok()?;
        let path = request_path(rt, uri.path()).ok()?;
        rt.table.find(uri.authority().map(|a| a.as_str()), &path)
    }?;
    rt.routes.get(index)
}

/// The decision of the module docs.
fn pick(
    rt: &Runtime,
    sso: &Sso,
    route: Option<&RouteRuntime>,
    asked: Option<&str>,
    hint: Option<&str>,
) -> Result<Pick, GatewayError> {
    let usable = |i: usize| sso.clients.get(i).is_some_and(|c| c.is_usable());
    let listed = route
        .filter(|r| matches!(r.config.auth, AuthMode::Session | AuthMode::Any))
        .map(|r| r.config.providers.as_slice());
    let candidates: Vec<usize> = match listed {
        Some(list) => list.iter().copied().filter(|&i| usable(i)).collect(),
        None => (0..rt.providers.len()).filter(|&i| usable(i)).collect(),
    };
    if let Some(name) = asked {
        let index = rt
            .providers
            .iter()
            .position(|p| p.name() == name)
            .ok_or(GatewayError::BadRequest("unknown provider"))?;
        if !usable(index) {
            return Err(GatewayError::BadRequest(
                "provider has no client credentials for sign-in",
            ));
        }
        if listed.is_some_and(|list| !list.contains(&index)) {
            return Err(GatewayError::BadRequest(
                "provider is not one the route signs in with",
            ));
        }
        return Ok(Pick::One(index, "parameter"));
    }
    if let Some(domain) = hint.and_then(chooser::hint_domain) {
        let mut by_domain = candidates.iter().copied().filter(|&i| {
            rt.config
                .providers
                .get(i)
                .is_some_and(|p| chooser::domain_listed(&p.domains, &domain))
        });
        if let (Some(index), None) = (by_domain.next(), by_domain.next()) {
            return Ok(Pick::One(index, "hint"));
        }
    }
    match (listed, candidates.as_slice()) {
        (_, []) => Err(GatewayError::NotFound),
        (_, [only]) => Ok(Pick::One(*only, "only")),
        (Some(_), _) => Ok(Pick::Chooser(candidates)),
        (None, [first, ..]) => {
            let own = route.and_then(|r| r.config.provider).filter(|&i| usable(i));
            Ok(Pick::One(own.unwrap_or(*first), "default"))
        }
    }
}

/// The chooser, never cached, allowed nothing but its own style.
fn chooser_page(
    rt: &Runtime,
    indexes: &[usize],
    return_to: &str,
    hint: Option<&str>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    // Names from this snapshot's config: a reused provider runtime may hold older ones.
    let shown: Vec<&crate::config::ProviderConfig> = indexes
        .iter()
        .filter_map(|&i| rt.config.providers.get(i))
        .collect();
    let choices: Vec<Choice<'_>> = shown
        .iter()
        .map(|p| Choice {
            name: &p.name,
            display_name: &p.display_name,
        })
        .collect();
    let html = chooser::render(&Page {
        prefix: &rt.config.server.proxy_prefix,
        choices: &choices,
        return_to,
        hint,
        ask_email: shown.iter().any(|p| !p.domains.is_empty()),
    });
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(chooser::CSP),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    Ok(resp)
}
