//! Validation of `providers[]`: names, issuer/discovery URLs, client authentication,
//! signing algorithms and claim settings (the `tokens` section: `validate_tokens.rs`).
//!
//! Never echoes `client_secret` or `introspection.client_secret` in a message.

use std::collections::BTreeMap;
use std::str::FromStr;

use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::checks;
use super::issues::{index_path, key_path};
use super::model::{ClaimsConfig, ClientAuth, ProviderConfig, Secret, UserinfoMode};
use super::raw::{RawClaims, RawProvider};
use super::validate::Ctx;
use super::validate_tokens::tokens;
use super::{validate_credentials, validate_machine};

/// Authorization-request parameters the gateway sets itself; overriding them would break
/// the login flow's security (state, nonce, PKCE) or its routing.
const RESERVED_AUTH_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Validates every provider, in file order.
pub(crate) fn providers(cx: &mut Ctx<'_>, raw: Vec<RawProvider>) -> Vec<ProviderConfig> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        let path = index_path("providers", i);
        let name = p.name.trim().to_owned();
        match checks::check_name(&name) {
            Err(msg) => cx.push(&format!("{path}.name"), msg),
            Ok(()) => {
                if let Some(first) = seen.iter().position(|n| *n == name) {
                    cx.push(
                        &format!("{path}.name"),
                        format!("duplicate provider name `{name}` (also providers[{first}])"),
                    );
                }
            }
        }
        seen.push(name.clone());
        out.push(provider(cx, &path, name, p));
    }
    out
}

fn provider(cx: &mut Ctx<'_>, path: &str, name: String, mut p: RawProvider) -> ProviderConfig {
    let issuer = p.issuer.trim().to_owned();
    if issuer.is_empty() {
        cx.push(&format!("{path}.issuer"), "is required");
    } else {
        idp_url(cx, &format!("{path}.issuer"), &issuer);
    }
    let discovery_url = match p.discovery_url.take().map(|s| s.trim().to_owned()) {
        Some(url) => {
            idp_url(cx, &format!("{path}.discovery_url"), &url);
            url
        }
        None => format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    };
    let client_id = p.client_id.trim().to_owned();
    if client_id.is_empty() {
        cx.push(&format!("{path}.client_id"), "is required");
    }
    let client_auth = match parse_client_auth(&p.client_auth) {
        Some(auth) => auth,
        None => {
            cx.push(
                &format!("{path}.client_auth"),
                format!(
                    "`{}` is not one of: client_secret_basic, client_secret_post, \
                     private_key_jwt, none",
                    p.client_auth.trim()
                ),
            );
            ClientAuth::ClientSecretBasic
        }
    };
    // Required only for providers a browser signs in with: see
    // `validate_credentials::login_credentials`, which runs once routes are known.
    let client_secret = p
        .client_secret
        .take()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let private_key_file = cx.file(
        &format!("{path}.private_key_file"),
        p.private_key_file.as_deref(),
    );
    let endpoints = validate_credentials::endpoints(cx, path, &mut p);
    let ca_file = cx.file(&format!("{path}.ca_file"), p.ca_file.as_deref());
    let scopes = scopes(cx, &format!("{path}.scopes"), p.scopes);
    let auth_params = auth_params(cx, &format!("{path}.auth_params"), p.auth_params);
    let userinfo = match p.userinfo.trim() {
        "auto" => UserinfoMode::Auto,
        "always" => UserinfoMode::Always,
        "never" => UserinfoMode::Never,
        other => {
            cx.push(
                &format!("{path}.userinfo"),
                format!("`{other}` is not one of: auto, always, never"),
            );
            UserinfoMode::Auto
        }
    };
    let signing_algs = p
        .signing_algs
        .map(|algs| signing_algs(cx, &format!("{path}.signing_algs"), &algs));
    let tokens = tokens(
        cx,
        &format!("{path}.tokens"),
        p.tokens,
        &client_id,
        private_key_file.as_ref(),
    );
    let claims = claims(cx, &format!("{path}.claims"), p.claims);
    let display_name = super::validate_chooser::display_name(cx, path, p.display_name, &name);
    let domains = super::validate_chooser::domains(cx, path, p.domains);
    let dpop = validate_machine::provider_dpop(cx, path, &p.dpop, &p.dpop_window, &tokens.schemes);
    ProviderConfig {
        name,
        issuer,
        discovery_url,
        client_id,
        client_secret,
        client_auth,
        private_key_file,
        ca_file,
        scopes,
        auth_params,
        userinfo,
        signing_algs,
        tokens,
        claims,
        endpoints,
        display_name,
        domains,
        dpop,
    }
}

fn idp_url(cx: &mut Ctx<'_>, path: &str, url: &str) {
    match checks::check_idp_url(url) {
        Ok(u) if u.has_query => cx.push(path, "must not contain a query (`?...`)"),
        Ok(_) => {}
        Err(msg) => cx.push(path, msg),
    }
}

pub(super) fn parse_client_auth(s: &str) -> Option<ClientAuth> {
    match s.trim() {
        "client_secret_basic" => Some(ClientAuth::ClientSecretBasic),
        "client_secret_post" => Some(ClientAuth::ClientSecretPost),
        "private_key_jwt" => Some(ClientAuth::PrivateKeyJwt),
        "none" => Some(ClientAuth::None),
        _ => None,
    }
}

pub(super) fn client_auth_name(auth: ClientAuth) -> &'static str {
    match auth {
        ClientAuth::ClientSecretBasic => "client_secret_basic",
        ClientAuth::ClientSecretPost => "client_secret_post",
        ClientAuth::PrivateKeyJwt => "private_key_jwt",
        ClientAuth::None => "none",
    }
}

fn scopes(cx: &mut Ctx<'_>, path: &str, raw: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, scope) in raw.into_iter().enumerate() {
        let scope = scope.trim().to_owned();
        if scope.is_empty() || scope.contains(char::is_whitespace) || scope.contains('"') {
            cx.push(
                &index_path(path, i),
                "must be one non-empty scope without spaces",
            );
        } else if !out.contains(&scope) {
            out.push(scope);
        }
    }
    if !out.iter().any(|s| s == "openid") {
        cx.push(
            path,
            "must include `openid` (required for OpenID Connect login)",
        );
    }
    out
}

fn auth_params(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    for key in raw.keys() {
        if RESERVED_AUTH_PARAMS.contains(&key.as_str()) {
            cx.push(
                &key_path(path, key),
                "is set by the gateway itself and cannot be overridden",
            );
        } else if key.is_empty() {
            cx.push(path, "parameter names must not be empty");
        }
    }
    raw
}

fn signing_algs(cx: &mut Ctx<'_>, path: &str, raw: &[String]) -> Vec<Algorithm> {
    if raw.is_empty() {
        cx.push(
            path,
            "must not be empty (omit it to accept the asymmetric algorithms discovery advertises)",
        );
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let name = name.trim();
        let item = index_path(path, i);
        if name.eq_ignore_ascii_case("none") {
            cx.push(&item, "`none` (unsigned tokens) is never accepted");
            continue;
        }
        match Algorithm::from_str(name) {
            Ok(alg) if alg.family() == AlgorithmFamily::Hmac => cx.push(
                &item,
                format!("{name} is symmetric and cannot be used with provider keys"),
            ),
            Ok(alg) => {
                if !out.contains(&alg) {
                    out.push(alg);
                }
            }
            Err(_) => cx.push(
                &item,
                format!(
                    "`{name}` is not a supported JWS algorithm (RS256, RS384, RS512, PS256, \
                     PS384, PS512, ES256, ES384, EdDSA)"
                ),
            ),
        }
    }
    out
}

fn claims(cx: &mut Ctx<'_>, path: &str, raw: RawClaims) -> ClaimsConfig {
    ClaimsConfig {
        username: claim_list(cx, &format!("{path}.username"), raw.username),
        email: claim_list(cx, &format!("{path}.email"), raw.email),
        groups: claim_list(cx, &format!("{path}.groups"), raw.groups),
    }
}

fn claim_list(cx: &mut Ctx<'_>, path: &str, raw: Vec<String>) -> Vec<String> {
    if raw.is_empty() {
        cx.push(path, "must list at least one claim name");
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, claim) in raw.into_iter().enumerate() {
        let claim = claim.trim().to_owned();
        if let Err(msg) = check_claim_path(&claim) {
            cx.push(&index_path(path, i), msg);
        } else {
            out.push(claim);
        }
    }
    out
}

/// A claim name or dotted path (`realm_access.roles`): no empty segments, no braces.
pub(crate) fn check_claim_path(claim: &str) -> Result<(), String> {
    if claim.is_empty() {
        return Err("must not be empty".into());
    }
    if claim.split('.').any(str::is_empty) {
        return Err(format!("`{claim}` has an empty segment in its dotted path"));
    }
    if claim.contains(['{', '}']) || claim.contains(char::is_whitespace) {
        return Err(format!("`{claim}` must not contain braces or whitespace"));
    }
    Ok(())
}
