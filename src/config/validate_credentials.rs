//! Client credentials and endpoints of `providers[]`: which providers must carry client
//! credentials (only those a browser signs in with: the token endpoint is called for
//! nothing else), how the introspection client authenticates, and the endpoints written
//! in the config.
//!
//! Never echoes a secret or a URL in a message (URLs may carry credentials).

use std::path::PathBuf;

use super::checks;
use super::model::{AuthMode, ClientAuth, EndpointOverrides, ProviderConfig, RouteConfig, Secret};
use super::raw::{RawIntrospection, RawProvider};
use super::validate::Ctx;
use super::validate_provider::{client_auth_name, parse_client_auth};

/// Requires `client_secret` / `private_key_file` of every provider that calls its token
/// endpoint for a route: one that a route with `auth: session` or `auth: any` signs
/// browsers in with (the login, its refresh, the forward-auth login redirect, sign-out
/// revocation and back-channel logout all serve those sessions), and one that a route's
/// `token_exchange` exchanges at (RFC 8693; a public client may not: `client_auth: none`
/// is refused there). A provider used only by bearer routes validates tokens without
/// ever calling its token endpoint, so it needs no client credentials. Runs after routes
/// are resolved to provider indexes; the message names the route that needs them.
pub(crate) fn login_credentials(
    cx: &mut Ctx<'_>,
    providers: &[ProviderConfig],
    routes: &[RouteConfig],
) {
    for (i, p) in providers.iter().enumerate() {
        let signs_in = routes
            .iter()
            .find(|r| r.providers.contains(&i) && r.accept.session);
        let exchanges = routes
            .iter()
            .find(|r| r.token_exchange.as_ref().is_some_and(|t| t.provider == i));
        let (route, why) = match (signs_in, exchanges) {
            (Some(r), _) => {
                let auth = if r.auth == AuthMode::Any {
                    "any"
                } else {
                    "session"
                };
                (
                    r,
                    format!("(auth: {auth}) signs browsers in with this provider"),
                )
            }
            (None, Some(r)) => (
                r,
                "exchanges tokens at this provider (token_exchange)".into(),
            ),
            (None, None) => continue,
        };
        let missing = match p.client_auth {
            ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost => {
                p.client_secret.is_none().then_some("client_secret")
            }
            ClientAuth::PrivateKeyJwt => p.private_key_file.is_none().then_some("private_key_file"),
            ClientAuth::None => None,
        };
        if let Some(field) = missing {
            cx.push(
                &format!("providers[{i}].{field}"),
                format!(
                    "is required for client_auth {}: route `{}` {why} (a provider used only \
                     by bearer routes needs no client credentials)",
                    client_auth_name(p.client_auth),
                    route.name
                ),
            );
        }
        if let (Some(r), ClientAuth::None) = (exchanges, p.client_auth) {
            cx.push(
                &format!("providers[{i}].client_auth"),
                format!(
                    "`none` cannot exchange tokens: route `{}` uses token_exchange, and an \
                     RFC 8693 exchange needs a confidential client (client_secret_basic, \
                     client_secret_post or private_key_jwt)",
                    r.name
                ),
            );
        }
    }
}

/// Takes the provider's endpoint keys out of `p` and validates them like the issuer
/// (https, or plain http to a loopback host; no credentials, no fragment). A query is
/// allowed: RFC 6749 §3.1 lets endpoint URLs carry one.
pub(crate) fn endpoints(cx: &mut Ctx<'_>, path: &str, p: &mut RawProvider) -> EndpointOverrides {
    let mut one = |key: &str, value: Option<String>| {
        let url = value?.trim().to_owned();
        let at = format!("{path}.{key}");
        if url.is_empty() {
            cx.push(&at, "must not be empty (omit it to use discovery)");
            return None;
        }
        if let Err(msg) = checks::check_idp_url(&url) {
            cx.push(&at, msg);
        }
        Some(url)
    };
    EndpointOverrides {
        jwks_uri: one("jwks_uri", p.jwks_uri.take()),
        userinfo_endpoint: one("userinfo_endpoint", p.userinfo_endpoint.take()),
        introspection_endpoint: one("introspection_endpoint", p.introspection_endpoint.take()),
        revocation_endpoint: one("revocation_endpoint", p.revocation_endpoint.take()),
        end_session_endpoint: one("end_session_endpoint", p.end_session_endpoint.take()),
    }
}

/// How the introspection client authenticates: the method, its secret, its key.
pub(crate) struct IntrospectionAuth {
    pub method: ClientAuth,
    pub secret: Option<Secret>,
    pub key_file: Option<PathBuf>,
}

/// `tokens.introspection.client_auth` (older name `auth_method`), `client_secret` and
/// `private_key_file` (default: the provider's, `provider_key`). The same methods as at
/// the token endpoint except `none`: RFC 7662 §2.1 requires the caller to authenticate.
pub(crate) fn introspection_auth(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: &mut RawIntrospection,
    provider_key: Option<&PathBuf>,
) -> IntrospectionAuth {
    let written = match (raw.client_auth.take(), raw.auth_method.take()) {
        (Some(a), Some(b)) if a.trim() != b.trim() => {
            cx.push(
                &format!("{path}.auth_method"),
                "is the older name of client_auth; set only one of them",
            );
            Some((a, "client_auth"))
        }
        (Some(a), _) => Some((a, "client_auth")),
        (None, Some(b)) => Some((b, "auth_method")),
        (None, None) => None,
    };
    let method = match written {
        None => ClientAuth::ClientSecretBasic,
        Some((name, key)) => match parse_client_auth(&name) {
            Some(ClientAuth::None) => {
                cx.push(
                    &format!("{path}.{key}"),
                    "`none` cannot be used here: an introspection caller must authenticate \
                     (RFC 7662 §2.1); use client_secret_basic, client_secret_post or \
                     private_key_jwt",
                );
                ClientAuth::ClientSecretBasic
            }
            Some(m) => m,
            None => {
                cx.push(
                    &format!("{path}.{key}"),
                    format!(
                        "`{}` is not one of: client_secret_basic, client_secret_post, \
                         private_key_jwt",
                        name.trim()
                    ),
                );
                ClientAuth::ClientSecretBasic
            }
        },
    };
    let secret = raw
        .client_secret
        .take()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let own_key = cx.file(
        &format!("{path}.private_key_file"),
        raw.private_key_file.as_deref(),
    );
    let key_file = own_key.or_else(|| provider_key.cloned());
    match method {
        ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost if secret.is_none() => cx
            .push(
                &format!("{path}.client_secret"),
                format!("is required for client_auth {}", client_auth_name(method)),
            ),
        ClientAuth::PrivateKeyJwt if key_file.is_none() => cx.push(
            &format!("{path}.private_key_file"),
            "is required for client_auth private_key_jwt (here or at the provider's \
             private_key_file)",
        ),
        _ => {}
    }
    IntrospectionAuth {
        method,
        secret,
        key_file: (method == ClientAuth::PrivateKeyJwt)
            .then_some(key_file)
            .flatten(),
    }
}
