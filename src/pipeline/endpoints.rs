//! Phase 3: the gateway's own endpoints under `server.proxy_prefix` (default `/oauth2`):
//! `start`, `callback`, `sign_out`, `userinfo`. Dispatch and request decoding only; the
//! flow itself lives in `oidc::{login, logout}`.

use crate::transport::upstream::ReqBody;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;

use super::ConnInfo;
use crate::error::GatewayError;
use crate::oidc::login;
use crate::oidc::logout;
use crate::oidc::sso::Sso;
use crate::oidc::urlenc::query_get;
use crate::pipeline::hygiene::request_host;
use crate::routing::table::host_only;
use crate::runtime::Runtime;
use crate::session::cookie::RequestCookies;
use crate::session::redirect::safe_redirect;
use crate::session::store::Loaded;
use crate::session::unix_now;

/// Serves `sub` (the path after the prefix, e.g. `/callback`).
pub async fn handle(
    rt: &Runtime,
    metrics: &crate::metrics::Metrics,
    conn: &ConnInfo,
    peer_trusted: bool,
    // `&mut` only so `/backchannel_logout` can read its form body.
    req: &mut Request<ReqBody>,
    sub: &str,
    // Cookies the response carries whatever it is (a failed callback clears its attempt).
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    // Forward-auth serves bearer-only configs too: it needs no session settings.
    if super::forward_auth::is_endpoint(sub) {
        return super::forward_auth::handle(rt, metrics, conn, peer_trusted, req, sub).await;
    }
    // The identity-assertion keys, also at `assertion::WELL_KNOWN_JWKS`.
    if let ("/jwks", Some(ring)) = (sub, rt.signing.as_deref()) {
        return Ok(crate::assertion::jwks_response(ring, unix_now()));
    }
    let Some(sso) = rt.sso.as_ref() else {
        return Err(GatewayError::NotFound);
    };
    let origin = external_origin(rt, sso, conn, peer_trusted, req);
    let query = req.uri().query();
    match sub {
        "/start" => {
            let rd = query_get(query, "rd");
            let return_to = rd
                .as_deref()
                .and_then(|rd| safe_target(rt, sso, &origin, rd))
                .unwrap_or_else(|| "/".to_owned());
            super::login_start::handle(rt, sso, req, return_to, &callback_url(sso, &origin))
        }
        "/callback" => {
            login::callback(
                sso,
                &rt.providers,
                req.headers(),
                query,
                &callback_url(sso, &origin),
                set_cookies,
            )
            .await
        }
        "/sign_out" => {
            // `state` carries `rd` through the provider's end_session round trip (the
            // provider returns to this endpoint, the one registered redirect URI).
            let rd = query_get(query, "rd").or_else(|| query_get(query, "state"));
            let after = rd
                .as_deref()
                .and_then(|rd| safe_target(rt, sso, &origin, rd))
                .or_else(|| rt.config.session.logout_redirect.clone())
                .unwrap_or_else(|| "/".to_owned());
            let after = absolute(&origin, after);
            let come_back = format!("{origin}{}/sign_out", rt.config.server.proxy_prefix);
            logout::sign_out(sso, &rt.providers, req.headers(), after, &come_back).await
        }
        "/userinfo" => userinfo(sso, req, set_cookies).await,
        "/backchannel_logout" => crate::oidc::backchannel::handle(sso, &rt.providers, req).await,
        _ => Err(GatewayError::NotFound),
    }
}

/// `rd` when it is safe (relative, the public origin, or an allowed domain).
fn safe_target(rt: &Runtime, sso: &Sso, origin: &str, rd: &str) -> Option<String> {
    let public = sso.public_origin.as_deref().unwrap_or(origin);
    safe_redirect(
        rd,
        Some(public),
        &rt.config.session.allowed_redirect_domains,
    )
}

fn absolute(origin: &str, target: String) -> String {
    if target.starts_with('/') {
        format!("{origin}{target}")
    } else {
        target
    }
}

fn callback_url(sso: &Sso, origin: &str) -> String {
    format!("{origin}{}", sso.callback_path)
}

/// The origin browsers use: `server.public_url`, else derived from the request (the
/// forwarded proto only from trusted proxies).
pub fn external_origin<B>(
    rt: &Runtime,
    sso: &Sso,
    conn: &ConnInfo,
    peer_trusted: bool,
    req: &Request<B>,
) -> String {
    if let Some(o) = &sso.public_origin {
        return o.clone();
    }
    let forwarded_https = peer_trusted
        && req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let scheme = if conn.tls || forwarded_https {
        "https"
    } else {
        "http"
    };
    let host = request_host(req)
        .filter(|h| host_only(h).is_some())
        .unwrap_or("localhost");
    let _ = rt;
    format!("{scheme}://{host}")
}

async fn userinfo(
    sso: &Sso,
    req: &Request<ReqBody>,
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let cookies = RequestCookies::from_headers(req.headers());
    let loaded = sso
        .store
        .read(&cookies, unix_now())
        .await
        .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
    let missing = GatewayError::Auth(crate::auth::AuthError::Missing);
    let data = match loaded {
        Loaded::Live { data, .. } => data,
        // As on every route: the 401 that refuses a dead cookie also deletes it.
        Loaded::Unreadable => {
            set_cookies.extend(sso.store.delete(&cookies).await);
            return Err(missing);
        }
        Loaded::None => return Err(missing),
    };
    let data = data.data();
    let body = serde_json::json!({
        "sub": data.subject,
        "user": data.username,
        "email": data.email,
        "groups": data.groups,
        "provider": data.provider,
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
