//! Validation of `routes[]`: names, match conditions, auth mode and provider resolution,
//! public paths, allow rules, timeouts (identity headers: `validate_headers.rs`; host,
//! upstream URL and TLS: `validate_upstream.rs`).
//!
//! Never echoes an upstream URL (it may carry credentials). Rejects settings that look
//! protective but do nothing (allow rules on an `auth: none` route), because in a security
//! product a silent no-op is a hole.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::checks;
use super::issues::{index_path, key_path};
use super::model::{Accept, AllowRules, AuthMode, ProviderConfig, RouteConfig, RouteTimeouts};
use super::raw::{RawAllow, RawRoute};
use super::validate::Ctx;
use super::validate_assertion;
use super::validate_headers::identity_headers;
use super::validate_machine;
use super::validate_provider::check_claim_path;
use super::validate_rate_limit::rate_limits;
use super::validate_upstream::{host_match, upstream, upstream_tls};

/// Validates every route, in file order, resolving provider names to indices.
pub(crate) fn routes(
    cx: &mut Ctx<'_>,
    raw: Vec<RawRoute>,
    providers: &[ProviderConfig],
    proxy_prefix: &str,
) -> Vec<RouteConfig> {
    let mut out: Vec<RouteConfig> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let path = index_path("routes", i);
        let route = route(cx, &path, r, providers, proxy_prefix);
        if !route.name.is_empty() {
            if let Some(j) = out.iter().position(|o| o.name == route.name) {
                cx.push(
                    &format!("{path}.name"),
                    format!("duplicate route name `{}` (also routes[{j}])", route.name),
                );
            }
        }
        if let Some(j) = out
            .iter()
            .position(|o| o.host == route.host && o.path_prefix == route.path_prefix)
        {
            cx.push(
                &format!("{path}.match"),
                format!(
                    "same host and path_prefix as routes[{j}] (`{}`); one would never be used",
                    out[j].name
                ),
            );
        }
        out.push(route);
    }
    out
}

fn route(
    cx: &mut Ctx<'_>,
    path: &str,
    r: RawRoute,
    providers: &[ProviderConfig],
    proxy_prefix: &str,
) -> RouteConfig {
    let name = r.name.trim().to_owned();
    if let Err(msg) = checks::check_name(&name) {
        cx.push(&format!("{path}.name"), msg);
    }
    let host = r.matcher.host.as_deref().and_then(|h| match host_match(h) {
        Ok(m) => Some(m),
        Err(msg) => {
            cx.push(&format!("{path}.match.host"), msg);
            None
        }
    });
    let prefix_path = format!("{path}.match.path_prefix");
    let path_prefix = match checks::normalize_path(r.matcher.path_prefix.trim()) {
        Ok(p) => {
            if p == proxy_prefix || p.starts_with(&format!("{proxy_prefix}/")) {
                cx.push(
                    &prefix_path,
                    format!(
                        "lies inside server.proxy_prefix `{proxy_prefix}`, where the gateway's \
                         own endpoints answer"
                    ),
                );
            }
            p
        }
        Err(msg) => {
            cx.push(&prefix_path, msg);
            "/".to_owned()
        }
    };
    let upstream = upstream(cx, &format!("{path}.upstream"), r.upstream.trim());
    let upstream_tls = r
        .upstream_tls
        .map(|t| upstream_tls(cx, &format!("{path}.upstream_tls"), t, upstream.https));
    let auth = match r.auth.as_deref().map(str::trim) {
        None | Some("") => {
            cx.push(
                &format!("{path}.auth"),
                "missing; one of bearer|session|any|api_key|none",
            );
            AuthMode::None
        }
        Some(s) => parse_auth(s).unwrap_or_else(|| {
            cx.push(
                &format!("{path}.auth"),
                format!("`{s}` is not one of bearer|session|any|api_key|none"),
            );
            AuthMode::None
        }),
    };
    let accept = validate_machine::accept(cx, path, auth, r.accept.as_deref());
    let listed = super::validate_chooser::route_providers(
        cx,
        path,
        auth,
        r.provider.as_deref(),
        r.providers,
        providers,
    );
    let (provider, signs_in) = match listed {
        Some(list) => (list.first().copied(), list),
        None => {
            let one = resolve_provider(cx, path, accept, r.provider.as_deref(), providers);
            let all = one.filter(|_| auth != AuthMode::None).into_iter().collect();
            (one, all)
        }
    };
    let raw_machine = validate_machine::RawMachineRoute {
        dpop: r.dpop.as_deref(),
        dpop_nonce: r.dpop_nonce,
        protected_resource_metadata: r.protected_resource_metadata,
    };
    let provider_config = provider.and_then(|i| providers.get(i));
    let machine = validate_machine::route(cx, path, raw_machine, accept, provider_config);
    let public_paths = public_paths(cx, path, r.public_paths, &path_prefix, auth);
    let allow = allow(cx, &format!("{path}.allow"), r.allow, auth);
    let identity_headers =
        identity_headers(cx, &format!("{path}.identity_headers"), r.identity_headers);
    let vouch = validate_assertion::RouteContext {
        auth,
        provider,
        pass_access_token: r.pass_access_token,
        providers,
    };
    let (identity_assertion, token_exchange) =
        vouch.validate(cx, path, r.identity_assertion, r.token_exchange);
    // Both are sent as the gateway's own fields: one name would reach the upstream twice.
    if let Some(a) = &identity_assertion {
        if identity_headers.iter().any(|(name, _)| *name == a.header) {
            cx.push(
                &format!("{path}.identity_assertion.header"),
                format!(
                    "`{}` is also one of this route's identity_headers",
                    a.header
                ),
            );
        }
    }
    let timeouts = RouteTimeouts {
        connect: cx.duration(
            &format!("{path}.timeouts.connect"),
            &r.timeouts.connect,
            true,
        ),
        response: cx.duration(
            &format!("{path}.timeouts.response"),
            &r.timeouts.response,
            true,
        ),
    };
    let cors = r
        .cors
        .map(|c| super::validate_cors::cors(cx, &format!("{path}.cors"), c));
    let rate_limit = rate_limits(cx, path, r.rate_limit, auth);
    RouteConfig {
        name,
        host,
        path_prefix,
        upstream,
        upstream_tls,
        strip_prefix: r.strip_prefix,
        preserve_host: r.preserve_host,
        auth,
        accept,
        provider,
        providers: signs_in,
        public_paths,
        allow,
        identity_headers,
        forward_authorization: r.forward_authorization,
        pass_access_token: r.pass_access_token,
        timeouts,
        cors,
        rate_limit,
        identity_assertion,
        token_exchange,
        machine,
    }
}

fn parse_auth(s: &str) -> Option<AuthMode> {
    match s {
        "bearer" => Some(AuthMode::Bearer),
        "session" => Some(AuthMode::Session),
        "any" => Some(AuthMode::Any),
        "none" => Some(AuthMode::None),
        "api_key" => Some(AuthMode::ApiKey),
        _ => None,
    }
}

fn resolve_provider(
    cx: &mut Ctx<'_>,
    path: &str,
    accept: Accept,
    name: Option<&str>,
    providers: &[ProviderConfig],
) -> Option<usize> {
    let names = || {
        providers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = name.map(str::trim) {
        let found = providers.iter().position(|p| p.name == name);
        if found.is_none() {
            let msg = if providers.is_empty() {
                format!("unknown provider `{name}`: no providers are configured")
            } else {
                format!("unknown provider `{name}` (configured: {})", names())
            };
            cx.push(&format!("{path}.provider"), msg);
        }
        return found;
    }
    // API keys alone need no identity provider.
    if !accept.needs_provider() {
        return None;
    }
    match providers.len() {
        0 => {
            cx.push(
                &format!("{path}.auth"),
                "needs an identity provider, but `providers:` is empty",
            );
            None
        }
        1 => Some(0),
        n => {
            cx.push(
                &format!("{path}.provider"),
                format!("is required: {n} providers are configured ({})", names()),
            );
            None
        }
    }
}

fn public_paths(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Vec<String>,
    prefix: &str,
    auth: AuthMode,
) -> Vec<String> {
    let list_path = format!("{path}.public_paths");
    if auth == AuthMode::None && !raw.is_empty() {
        cx.push(
            &list_path,
            "has no effect with `auth: none` (every path is public)",
        );
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        match checks::normalize_path(p.trim()) {
            Ok(norm) if !norm.starts_with(prefix.trim_end_matches('/')) => cx.push(
                &index_path(&list_path, i),
                format!("`{norm}` lies outside the route's path_prefix `{prefix}`"),
            ),
            Ok(norm) => out.push(norm),
            Err(msg) => cx.push(&index_path(&list_path, i), msg),
        }
    }
    out
}

fn allow(cx: &mut Ctx<'_>, path: &str, raw: RawAllow, auth: AuthMode) -> AllowRules {
    let mut rules = AllowRules {
        users: non_empty_items(cx, &format!("{path}.users"), raw.users),
        email_domains: Vec::new(),
        groups: non_empty_items(cx, &format!("{path}.groups"), raw.groups),
        scopes: non_empty_items(cx, &format!("{path}.scopes"), raw.scopes),
        claims: BTreeMap::new(),
    };
    for (i, d) in raw.email_domains.iter().enumerate() {
        let item = index_path(&format!("{path}.email_domains"), i);
        if d.contains('@') {
            cx.push(&item, "write the domain only (`example.com`), without `@`");
            continue;
        }
        match checks::check_domain(d) {
            Ok(d) => rules.email_domains.push(d),
            Err(msg) => cx.push(&item, msg),
        }
    }
    for (claim, value) in raw.claims {
        let claim_path = key_path(&format!("{path}.claims"), &claim);
        if let Err(msg) = check_claim_path(&claim) {
            cx.push(&claim_path, msg);
            continue;
        }
        match yaml_to_json(&value) {
            Some(json) => {
                rules.claims.insert(claim, json);
            }
            None => cx.push(
                &claim_path,
                "must be a string, number, boolean or a list of them",
            ),
        }
    }
    if auth == AuthMode::None && rules != AllowRules::default() {
        cx.push(
            path,
            "has no effect with `auth: none`; set auth to bearer, session or any",
        );
    }
    rules
}

fn non_empty_items(cx: &mut Ctx<'_>, path: &str, raw: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, item) in raw.into_iter().enumerate() {
        let item = item.trim().to_owned();
        if item.is_empty() {
            cx.push(&index_path(path, i), "must not be empty");
        } else {
            out.push(item);
        }
    }
    out
}

/// Scalars and lists of scalars only (the schema walk already enforced the shape).
fn yaml_to_json(v: &Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    match v {
        Value::String(s) => Some(J::String(s.clone())),
        Value::Bool(b) => Some(J::Bool(*b)),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Some(J::from(u))
            } else if let Some(i) = n.as_i64() {
                Some(J::from(i))
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(J::Number)
            }
        }
        Value::Sequence(items) => items
            .iter()
            .map(|item| match item {
                Value::Sequence(_) => None,
                other => yaml_to_json(other),
            })
            .collect::<Option<Vec<_>>>()
            .map(J::Array),
        _ => None,
    }
}
