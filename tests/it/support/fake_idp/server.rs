//! FakeIdp's HTTP side: the accept loop, routing by path, failure modes and the endpoint
//! handlers (discovery, JWKS, authorize, token, userinfo, introspection, revocation,
//! end_session). Everything is answered from [`Inner`]; nothing here keeps state itself.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::flow::Params;
use super::flow_server;
use super::state::{lock, ClientAuthSeen, Endpoint, Mode};
use super::Inner;

pub(crate) type Resp = Response<Full<Bytes>>;

/// Serves connections until the task is aborted (FakeIdp's `Drop`).
pub(crate) async fn serve(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let inner = inner.clone();
                async move { handle(inner, req).await }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Errors are expected: `Mode::Down` drops connections on purpose.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The error that makes hyper close the connection without answering (`Mode::Down`).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Result<Resp, Dropped> {
    let ep = inner.classify(req.uri().path());
    inner.state.hit(ep);
    inner.state.pass_gate(ep).await;
    match inner.state.mode(ep) {
        Mode::Normal => {}
        Mode::Down => return Err(Dropped),
        Mode::Unavailable => {
            return Ok(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "unavailable",
            ))
        }
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Error500 => {
            return Ok(json_resp(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            ))
        }
        Mode::NotJson => {
            return Ok(text(
                StatusCode::OK,
                "application/json",
                "<html>oops</html>",
            ));
        }
        Mode::Unauthorized => {
            return Ok(json_resp(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_client"}),
            ))
        }
        Mode::TooManyRequests => {
            return Ok(json_resp(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"error": "slow_down"}),
            ))
        }
        Mode::NotFound => return Ok(text(StatusCode::NOT_FOUND, "text/plain", "not found")),
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let resp = match ep {
        Endpoint::Discovery => json_resp(StatusCode::OK, &inner.discovery()),
        Endpoint::Rfc8414 => json_resp(StatusCode::OK, &inner.rfc8414()),
        Endpoint::Jwks => {
            let mut r = json_resp(StatusCode::OK, &inner.jwks());
            if let Some(age) = *lock(&inner.state.jwks_max_age) {
                let v = format!("public, max-age={age}");
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, v.parse().expect("ascii"));
            }
            r
        }
        Endpoint::AttackerJwks => {
            json_resp(StatusCode::OK, &json!({"keys": [inner.attacker().jwk()]}))
        }
        Endpoint::Authorize => {
            lock(&inner.state.last_query).insert(ep, query.clone());
            flow_server::authorize(&inner, &parts.method, &query)
        }
        Endpoint::EndSession => end_session(&inner, query),
        Endpoint::Token => token(&inner, &parts.method, &parts.headers, &body),
        Endpoint::Userinfo => userinfo(&inner, &parts.headers),
        Endpoint::Introspection => introspect(&inner, &parts.method, &parts.headers, &body),
        Endpoint::Revocation => flow_server::revocation(&inner, &parts.headers, &body),
        Endpoint::Other => text(StatusCode::NOT_FOUND, "text/plain", "not found"),
    };
    Ok(resp)
}

fn end_session(inner: &Inner, query: String) -> Resp {
    let form = parse_form(query.as_bytes());
    let allowed = {
        let mut flow = lock(&inner.state.flow);
        flow.end_sessions.push(Params::parse(query.as_bytes()));
        flow.post_logout_uris.clone()
    };
    lock(&inner.state.last_query).insert(Endpoint::EndSession, query);
    let target = form_get(&form, "post_logout_redirect_uri");
    if let (Some(allowed), Some(target)) = (allowed, &target) {
        if !allowed.contains(target) {
            let why = "post_logout_redirect_uri is not registered";
            return text(StatusCode::BAD_REQUEST, "text/plain", why);
        }
    }
    match form_get(&form, "post_logout_redirect_uri") {
        Some(target) => {
            let mut loc = target;
            if let Some(state) = form_get(&form, "state") {
                loc.push(if loc.contains('?') { '&' } else { '?' });
                loc.push_str("state=");
                loc.push_str(&flow_server::enc(&state));
            }
            let mut r = text(StatusCode::FOUND, "text/plain", "");
            r.headers_mut()
                .insert(header::LOCATION, loc.parse().expect("redirect target"));
            r
        }
        None => text(StatusCode::OK, "text/html", "<html>signed out</html>"),
    }
}

/// The legacy registry (`add_code`/`add_refresh_token`) answers first; everything else
/// goes through the strict code flow (`flow_server.rs`).
fn token(inner: &Inner, method: &Method, headers: &http::HeaderMap, body: &[u8]) -> Resp {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "POST only");
    }
    lock(&inner.state.last_query)
        .insert(Endpoint::Token, String::from_utf8_lossy(body).into_owned());
    let form = parse_form(body);
    if form_get(&form, "grant_type").as_deref() == Some(super::exchange::GRANT) {
        return super::exchange::token_exchange(inner, headers, body);
    }
    let key = match form_get(&form, "grant_type").as_deref() {
        Some("authorization_code") => form_get(&form, "code").map(|c| format!("code:{c}")),
        Some("refresh_token") => form_get(&form, "refresh_token").map(|t| format!("refresh:{t}")),
        _ => None,
    };
    let registered = key.and_then(|k| lock(&inner.state.token_responses).get(&k).cloned());
    match registered {
        Some(v) => json_resp(StatusCode::OK, &v),
        None => flow_server::token(inner, headers, body),
    }
}

fn userinfo(inner: &Inner, headers: &http::HeaderMap) -> Resp {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let registered = token
        .as_ref()
        .and_then(|t| lock(&inner.state.userinfo).get(t).cloned());
    match registered.or_else(|| token.as_deref().and_then(derived_userinfo)) {
        Some(v) => json_resp(StatusCode::OK, &v),
        None => {
            let mut r = json_resp(StatusCode::UNAUTHORIZED, &json!({"error": "invalid_token"}));
            let v = "Bearer error=\"invalid_token\"".parse().expect("ascii");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            r
        }
    }
}

/// Userinfo for an unregistered JWT: its payload minus token bookkeeping claims.
fn derived_userinfo(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let mut claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    for k in [
        "iss", "aud", "exp", "iat", "nbf", "jti", "azp", "nonce", "scope", "scp", "typ",
    ] {
        claims.remove(k);
    }
    claims.contains_key("sub").then_some(Value::Object(claims))
}

fn introspect(inner: &Inner, method: &Method, headers: &http::HeaderMap, body: &[u8]) -> Resp {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "POST only");
    }
    let form = parse_form(body);
    if let Some(checked) = inner.introspection_assertion(headers, &form) {
        return match checked {
            Ok(seen) => {
                *lock(&inner.state.last_introspection_auth) = Some(seen);
                introspection_answer(inner, &form)
            }
            Err(why) => {
                let body = json!({"error": "invalid_client", "error_description": why});
                json_resp(StatusCode::UNAUTHORIZED, &body)
            }
        };
    }
    let seen = basic_credentials(headers)
        .map(|(id, secret)| ClientAuthSeen::Basic(id, secret))
        .or_else(|| {
            let id = form_get(&form, "client_id")?;
            let secret = form_get(&form, "client_secret")?;
            Some(ClientAuthSeen::Post(id, secret))
        })
        .unwrap_or(ClientAuthSeen::None);
    let opts = &inner.opts;
    let authorised = match &seen {
        ClientAuthSeen::Basic(id, secret) => {
            *id == opts.resource_id && *secret == opts.resource_secret
        }
        ClientAuthSeen::Post(id, secret) => {
            opts.allow_client_secret_post
                && *id == opts.resource_id
                && *secret == opts.resource_secret
        }
        ClientAuthSeen::PrivateKeyJwt(..) | ClientAuthSeen::None => false,
    };
    *lock(&inner.state.last_introspection_auth) = Some(seen);
    if !authorised {
        let mut r = json_resp(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_client"}),
        );
        let v = "Basic realm=\"introspection\"".parse().expect("ascii");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        return r;
    }
    introspection_answer(inner, &form)
}

fn introspection_answer(inner: &Inner, form: &[(String, String)]) -> Resp {
    let Some(token) = form_get(form, "token").filter(|t| !t.is_empty()) else {
        return json_resp(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request"}),
        );
    };
    let found = lock(&inner.state.reference_tokens).get(&token).cloned();
    json_resp(
        StatusCode::OK,
        &found.unwrap_or_else(|| json!({"active": false})),
    )
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
pub(crate) fn basic_credentials(headers: &http::HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id), percent_decode(secret)))
}

/// Parses `application/x-www-form-urlencoded` (also a query string).
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The first value of `key` in a parsed form.
pub(crate) fn form_get(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).expect("two hex digits"));
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn json_resp(status: StatusCode, v: &Value) -> Resp {
    text(status, "application/json", &v.to_string())
}

pub(crate) fn text(status: StatusCode, content_type: &str, body: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        content_type.parse().expect("content type"),
    );
    r
}
