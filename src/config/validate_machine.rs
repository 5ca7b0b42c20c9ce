//! Validation of the machine-credential settings: `api_keys[]` and `api_key_header`,
//! `providers[].dpop`/`dpop_window`, and a route's `accept`, `dpop`, `dpop_nonce` and
//! `protected_resource_metadata`, with the checks that need every route at once.
//!
//! Refuses settings that would look protective but do nothing (`dpop` on a route that
//! takes no tokens, `accept: [api_key]` without any key source), and a route that the
//! gateway's RFC 9728 document would shadow. Key files are parsed by `auth::api_key`
//! (at start, on reload and by `check-config`), never here.

use http::HeaderName;

use super::checks;
use super::issues::index_path;
use super::model::{
    metadata_path, Accept, ApiKeySource, ApiKeysConfig, AuthMode, DpopConfig, DpopMode,
    MachineRoute, ProviderConfig, RouteConfig, ServerConfig,
};
use super::raw::RawApiKeySource;
use super::validate::Ctx;

/// Header names that can never carry an API key: they mean something else to the
/// gateway, the upstream or HTTP itself.
const RESERVED_KEY_HEADERS: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "dpop",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// `api_keys[]` and `api_key_header`.
pub(crate) fn api_keys(
    cx: &mut Ctx<'_>,
    raw: Vec<RawApiKeySource>,
    header: Option<String>,
) -> ApiKeysConfig {
    let mut sources: Vec<ApiKeySource> = Vec::with_capacity(raw.len());
    for (i, s) in raw.into_iter().enumerate() {
        let path = index_path("api_keys", i);
        let name = s.name.trim().to_owned();
        if let Err(msg) = checks::check_name(&name) {
            cx.push(&format!("{path}.name"), msg);
        } else if let Some(j) = sources.iter().position(|o| o.name == name) {
            cx.push(
                &format!("{path}.name"),
                format!("duplicate source name `{name}` (also api_keys[{j}])"),
            );
        }
        let file = match s.file.as_deref().map(str::trim) {
            None | Some("") => {
                cx.push(
                    &format!("{path}.file"),
                    "is required: a YAML list of { sha256, sub, groups, scopes, expires }",
                );
                None
            }
            Some(f) => cx.file(&format!("{path}.file"), Some(f)),
        };
        if let Some(file) = file {
            sources.push(ApiKeySource { name, file });
        }
    }
    let header = header.map(|h| h.trim().to_ascii_lowercase()).and_then(|h| {
        let name = HeaderName::from_bytes(h.as_bytes()).ok();
        match name {
            None => cx.push("api_key_header", format!("`{h}` is not a header name")),
            Some(_) if RESERVED_KEY_HEADERS.contains(&h.as_str()) => cx.push(
                "api_key_header",
                format!("`{h}` cannot carry API keys (use `Authorization: ApiKey <key>`)"),
            ),
            Some(_) if sources.is_empty() => {
                cx.push("api_key_header", "has no effect without `api_keys` sources")
            }
            Some(_) => {}
        }
        name
    });
    ApiKeysConfig { sources, header }
}

/// `providers[].dpop` and `providers[].dpop_window`.
pub(crate) fn provider_dpop(
    cx: &mut Ctx<'_>,
    path: &str,
    mode: &str,
    window: &str,
    schemes: &[String],
) -> DpopConfig {
    let mode = dpop_mode(cx, &format!("{path}.dpop"), mode);
    let window = cx.duration(&format!("{path}.dpop_window"), window, true);
    if schemes.iter().any(|s| s.eq_ignore_ascii_case("dpop")) {
        cx.push(
            &format!("{path}.tokens.schemes"),
            "must not list `DPoP`: set `dpop: allowed` or `dpop: required` instead, so that \
             DPoP tokens are checked against their proof",
        );
    }
    DpopConfig { mode, window }
}

fn dpop_mode(cx: &mut Ctx<'_>, path: &str, s: &str) -> DpopMode {
    match s.trim() {
        "off" | "false" => DpopMode::Off,
        "allowed" => DpopMode::Allowed,
        "required" => DpopMode::Required,
        other => {
            cx.push(
                path,
                format!("`{other}` is not one of: off, allowed, required"),
            );
            DpopMode::Off
        }
    }
}

/// `routes[].accept`: only with `auth: any`; defaults to what `auth` admits.
pub(crate) fn accept(
    cx: &mut Ctx<'_>,
    path: &str,
    auth: AuthMode,
    raw: Option<&[String]>,
) -> Accept {
    let Some(list) = raw else {
        return Accept::of(auth);
    };
    let path = format!("{path}.accept");
    if auth != AuthMode::Any {
        cx.push(
            &path,
            "applies only to `auth: any` (the other modes accept exactly what they name)",
        );
        return Accept::of(auth);
    }
    let mut out = Accept::default();
    for (i, item) in list.iter().enumerate() {
        let slot = match item.trim() {
            "session" => &mut out.session,
            "bearer" => &mut out.bearer,
            "api_key" => &mut out.api_key,
            other => {
                cx.push(
                    &index_path(&path, i),
                    format!("`{other}` is not one of: session, bearer, api_key"),
                );
                continue;
            }
        };
        if std::mem::replace(slot, true) {
            cx.push(&index_path(&path, i), "listed twice");
        }
    }
    if out == Accept::default() {
        cx.push(&path, "must list at least one of: session, bearer, api_key");
    }
    out
}

/// The raw `routes[].dpop`, `dpop_nonce` and `protected_resource_metadata`.
pub(crate) struct RawMachineRoute<'a> {
    pub dpop: Option<&'a str>,
    pub dpop_nonce: bool,
    pub protected_resource_metadata: bool,
}

/// `routes[].dpop`, `dpop_nonce` and `protected_resource_metadata`.
pub(crate) fn route(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: RawMachineRoute<'_>,
    accept: Accept,
    provider: Option<&ProviderConfig>,
) -> MachineRoute {
    let own = raw.dpop.map(|s| dpop_mode(cx, &format!("{path}.dpop"), s));
    if own.is_some() && !accept.bearer {
        cx.push(
            &format!("{path}.dpop"),
            "has no effect: the route accepts no access tokens",
        );
    }
    let dpop = if accept.bearer {
        own.or(provider.map(|p| p.dpop.mode)).unwrap_or_default()
    } else {
        DpopMode::Off
    };
    if raw.dpop_nonce && dpop == DpopMode::Off {
        cx.push(
            &format!("{path}.dpop_nonce"),
            "needs `dpop: allowed` or `dpop: required` (on the route or its provider)",
        );
    }
    if raw.protected_resource_metadata && !accept.bearer {
        cx.push(
            &format!("{path}.protected_resource_metadata"),
            "applies only to routes that accept access tokens (auth: bearer, or any with \
             bearer in accept)",
        );
    }
    MachineRoute {
        dpop,
        dpop_nonce: raw.dpop_nonce,
        protected_resource_metadata: raw.protected_resource_metadata,
    }
}

/// The checks that need every route: key sources for routes that take keys, and the
/// RFC 9728 documents (a public URL to name the resource, no route shadowed).
pub(crate) fn routes(
    cx: &mut Ctx<'_>,
    routes: &[RouteConfig],
    server: &ServerConfig,
    keys: &ApiKeysConfig,
) {
    for (i, r) in routes.iter().enumerate() {
        if r.accept.api_key && keys.sources.is_empty() {
            cx.push(
                &format!("routes[{i}].auth"),
                "accepts API keys, but no `api_keys` sources are configured",
            );
        }
        // On a route without tokens it was refused already.
        if !(r.machine.protected_resource_metadata && r.accept.bearer) {
            continue;
        }
        let field = format!("routes[{i}].protected_resource_metadata");
        if server.public_url.is_none() {
            cx.push(
                &field,
                "needs server.public_url: the resource identifier clients compare (RFC 9728 \
                 §3.3) is public_url + path_prefix, never a Host header",
            );
        }
        let doc = metadata_path(&r.path_prefix);
        for (j, other) in routes.iter().enumerate() {
            // A catch-all route loses only the exact document paths (documented); any
            // other route covering one would silently never see it.
            if j != i && other.path_prefix != "/" && covers(&other.path_prefix, &doc) {
                cx.push(
                    &format!("routes[{j}].match.path_prefix"),
                    format!(
                        "covers `{doc}`, which the gateway answers itself \
                         (protected_resource_metadata of route `{}`); the route would never \
                         see it",
                        r.name
                    ),
                );
            }
        }
    }
}

/// Segment-bounded prefix match (the routing table's rule, restated: config must not
/// depend on routing).
fn covers(prefix: &str, path: &str) -> bool {
    let base = prefix.strip_suffix('/').unwrap_or(prefix);
    path.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::model::RESOURCE_METADATA_PATH;

    #[test]
    fn document_paths_and_coverage() {
        assert_eq!(
            metadata_path("/mcp/"),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(metadata_path("/"), RESOURCE_METADATA_PATH);
        assert!(covers("/.well-known/", &metadata_path("/mcp")));
        assert!(covers(
            "/.well-known/oauth-protected-resource",
            &metadata_path("/")
        ));
        assert!(!covers("/.well-known/oauth", &metadata_path("/")));
        assert!(!covers("/mcp", &metadata_path("/mcp")));
    }
}
