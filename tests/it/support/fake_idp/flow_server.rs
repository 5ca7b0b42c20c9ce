//! FakeIdp's code-flow endpoints, strict like a real provider: `/connect/authorize`
//! (validates the request, auto-approves the chosen user, redirects with a one-time
//! code), `/connect/token` (client authentication, redirect_uri, PKCE S256, one-time
//! codes, refresh with rotation) and `/connect/revocation` (RFC 7009). State and
//! switches live in `flow.rs`; nothing here keeps state itself.

use http::{header, HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

use super::client_auth::{authenticate, presented, ClientAuthUsed};
use super::flow::{Code, Flow, Grant, Issued, Params, RefreshGrant, RevocationCall, TokenCall};
use super::server::{json_resp, text, Resp};
use super::state::{lock, Endpoint};
use super::{b64url, merge, now, random_hex, Inner};

/// `/connect/authorize`.
pub(crate) fn authorize(inner: &Inner, method: &Method, query: &str) -> Resp {
    if method != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only");
    }
    let q = Params::parse(query.as_bytes());
    let mut flow = lock(&inner.state.flow);
    flow.authorizations.push(q.clone());
    let Some(client) = flow.client.clone() else {
        return reject_page(&mut flow, q, "no client registered");
    };
    if q.get("client_id") != Some(client.client_id.as_str()) {
        return reject_page(&mut flow, q, "unknown client_id");
    }
    if q.get("redirect_uri") != Some(client.redirect_uri.as_str()) {
        return reject_page(&mut flow, q, "redirect_uri is not the registered one");
    }
    let state = q.get("state").unwrap_or_default().to_owned();
    let back = |pairs: &[(&str, &str)]| {
        let mut loc = client.redirect_uri.clone();
        let mut sep = if loc.contains('?') { '&' } else { '?' };
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            loc.push_str(&format!("{sep}{k}={}", enc(v)));
            sep = '&';
        }
        redirect(&loc)
    };
    if let Err(why) = check_request(&q) {
        flow.rejections.push((why.clone(), q));
        let (error, description) = why.split_once(": ").unwrap_or(("invalid_request", &why));
        return back(&[
            ("error", error),
            ("error_description", description),
            ("state", &state),
        ]);
    }
    let iss = flow.authorize_iss.clone().unwrap_or_default();
    if let Some(error) = flow.authorize_error.clone() {
        return back(&[("error", &error), ("state", &state), ("iss", &iss)]);
    }
    let Some((sub, claims)) = flow.user.clone() else {
        return text(StatusCode::OK, "text/html", "<html>login page</html>");
    };
    let challenge = if flow.tamper_pkce {
        b64url(random_hex(32))
    } else {
        q.get("code_challenge").unwrap_or_default().to_owned()
    };
    let code = random_hex(16);
    flow.codes.insert(
        code.clone(),
        Code {
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            challenge,
            nonce: q.get("nonce").unwrap_or_default().to_owned(),
            sub,
            claims,
            scope: q.get("scope").unwrap_or_default().to_owned(),
            used: false,
        },
    );
    back(&[("code", &code), ("state", &state), ("iss", &iss)])
}

/// Request checks a real provider makes once client and redirect_uri are known; the
/// error text is `"<oauth error>: <description>"`.
fn check_request(q: &Params) -> Result<(), String> {
    for (k, _) in &q.0 {
        if q.count(k) > 1 {
            return Err(format!("invalid_request: parameter {k} repeated"));
        }
    }
    if q.get("response_type") != Some("code") {
        return Err("unsupported_response_type: only response_type=code".into());
    }
    if !q
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|x| x == "openid"))
    {
        return Err("invalid_scope: scope must contain openid".into());
    }
    for required in ["state", "nonce", "code_challenge"] {
        if q.get(required).is_none_or(str::is_empty) {
            return Err(format!("invalid_request: {required} is required"));
        }
    }
    if q.get("code_challenge_method") != Some("S256") {
        return Err("invalid_request: code_challenge_method must be S256".into());
    }
    let challenge = q.get("code_challenge").unwrap_or_default();
    if challenge.len() != 43 || !challenge.bytes().all(is_unreserved) {
        return Err("invalid_request: code_challenge is not a base64url SHA-256".into());
    }
    Ok(())
}

fn reject_page(flow: &mut Flow, q: Params, why: &str) -> Resp {
    flow.rejections.push((why.to_owned(), q));
    text(StatusCode::BAD_REQUEST, "text/plain", why)
}

/// The URLs a client assertion may name as audience at `ep`.
fn audiences(inner: &Inner, ep: Endpoint) -> Vec<String> {
    let url = |e| format!("{}{}", inner.base, inner.path_of(e));
    let mut auds = vec![url(Endpoint::Token)];
    if ep != Endpoint::Token {
        auds.push(url(ep));
        auds.push(inner.issuer());
    }
    auds
}

type Refusal = (StatusCode, String, String);

/// `/connect/token` for everything not in the legacy `add_code`/`add_refresh_token`
/// registry.
pub(crate) fn token(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Resp {
    let form = Params::parse(body);
    let auth = presented(headers, &form);
    let grant = Grant::of(&form);
    let mut flow = lock(&inner.state.flow);
    let result = exchange(inner, &mut flow, &form, &auth, grant);
    let (status, error) = match &result {
        Ok(_) => (StatusCode::OK, None),
        Err((s, e, d)) => (*s, Some((e.clone(), d.clone()))),
    };
    flow.token_calls.push(TokenCall {
        grant,
        form,
        auth,
        status: status.as_u16(),
        error,
    });
    let mut resp = match result {
        Ok(v) => json_resp(StatusCode::OK, &v),
        Err((s, e, d)) => json_resp(s, &json!({"error": e, "error_description": d})),
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    resp
}

fn exchange(
    inner: &Inner,
    flow: &mut Flow,
    form: &Params,
    auth: &ClientAuthUsed,
    grant: Grant,
) -> Result<Value, Refusal> {
    let invalid_client = |d: String| (StatusCode::UNAUTHORIZED, "invalid_client".into(), d);
    let invalid_grant = |d: &str| (StatusCode::BAD_REQUEST, "invalid_grant".into(), d.into());
    let client = flow
        .client
        .clone()
        .ok_or_else(|| invalid_client("no client registered".into()))?;
    let auds = audiences(inner, Endpoint::Token);
    authenticate(&client, auth, form, &auds, &mut flow.jtis, now()).map_err(invalid_client)?;
    match grant {
        Grant::AuthorizationCode => {
            let code_value = form.get("code").unwrap_or_default();
            let code = flow
                .codes
                .get_mut(code_value)
                .ok_or_else(|| invalid_grant("unknown code"))?;
            if code.used {
                return Err(invalid_grant("code already used"));
            }
            code.used = true;
            let code = code.clone();
            if code.client_id != client.client_id {
                return Err(invalid_grant("code issued to another client"));
            }
            if form.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
                return Err(invalid_grant(
                    "redirect_uri differs from the authorize request",
                ));
            }
            let verifier = form.get("code_verifier").unwrap_or_default();
            if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
                return Err(invalid_grant("code_verifier missing or malformed"));
            }
            if s256(verifier) != code.challenge {
                return Err(invalid_grant("PKCE verification failed"));
            }
            let nonce = Some(code.nonce.as_str());
            Ok(issue(
                inner,
                flow,
                grant,
                &client.client_id,
                &code.sub,
                &code.claims,
                &code.scope,
                nonce,
            ))
        }
        Grant::RefreshToken => {
            if let Some(e) = flow.refresh_error.clone() {
                return Err((
                    StatusCode::BAD_REQUEST,
                    e,
                    "refresh refused by switch".into(),
                ));
            }
            let value = form.get("refresh_token").unwrap_or_default().to_owned();
            let rt = flow
                .refresh
                .get(&value)
                .cloned()
                .ok_or_else(|| invalid_grant("unknown or revoked refresh token"))?;
            if rt.used {
                return Err(invalid_grant("refresh token already used (rotated)"));
            }
            if rt.client_id != client.client_id {
                return Err(invalid_grant("refresh token of another client"));
            }
            let mut out = issue(
                inner,
                flow,
                grant,
                &rt.client_id,
                &rt.sub,
                &rt.claims,
                &rt.scope,
                None,
            );
            if flow.rotate_refresh {
                if let Some(r) = flow.refresh.get_mut(&value) {
                    r.used = true;
                }
            } else {
                let fresh = out["refresh_token"].as_str().unwrap_or_default().to_owned();
                flow.refresh.remove(&fresh);
                out["refresh_token"] = json!(value);
                if let Some(last) = flow.issued.last_mut() {
                    last.refresh_token = Some(value);
                }
            }
            Ok(out)
        }
        Grant::Other => Err((
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type".into(),
            "only authorization_code and refresh_token".into(),
        )),
    }
}

/// Mints access, ID and refresh tokens for `sub` and records them.
#[allow(clippy::too_many_arguments)]
fn issue(
    inner: &Inner,
    flow: &mut Flow,
    grant: Grant,
    client_id: &str,
    sub: &str,
    claims: &Value,
    scope: &str,
    nonce: Option<&str>,
) -> Value {
    let t = now();
    let expires_at = t + flow.expires_in;
    let access_token = if flow.opaque_access_tokens {
        random_hex(24)
    } else {
        inner.sign_flow_token(&json!({
            "iss": inner.issuer(), "sub": sub, "aud": "api1", "client_id": client_id,
            "scope": scope, "iat": t, "exp": expires_at, "jti": random_hex(8),
        }))
    };
    let mut userinfo = claims.clone();
    userinfo["sub"] = json!(sub);
    merge(&mut userinfo, flow.userinfo_patch.clone());
    lock(&inner.state.userinfo).insert(access_token.clone(), userinfo);
    let mut id = json!({"iss": inner.issuer(), "sub": sub, "aud": client_id, "iat": t,
                        "exp": t + 300, "auth_time": t});
    merge(&mut id, claims.clone());
    id["sub"] = json!(sub);
    if let Some(n) = nonce {
        id["nonce"] = json!(if flow.wrong_nonce { "not-the-nonce" } else { n });
    }
    if flow.omit_preferred_username {
        merge(&mut id, json!({"preferred_username": null}));
    }
    merge(&mut id, flow.id_token_patch.clone());
    let id_token = inner.sign_flow_token(&id);
    let refresh_token = random_hex(24);
    flow.refresh.insert(
        refresh_token.clone(),
        RefreshGrant {
            client_id: client_id.to_owned(),
            sub: sub.to_owned(),
            claims: claims.clone(),
            scope: scope.to_owned(),
            used: false,
        },
    );
    flow.issued.push(Issued {
        grant,
        sub: sub.to_owned(),
        access_token: access_token.clone(),
        id_token: Some(id_token.clone()),
        refresh_token: Some(refresh_token.clone()),
        expires_at,
    });
    let mut response = json!({"access_token": access_token, "expires_in": flow.expires_in,
           "id_token": id_token, "refresh_token": refresh_token, "scope": scope});
    if let Some(token_type) = &flow.token_type {
        response["token_type"] = json!(token_type);
    }
    response
}

/// `/connect/revocation` (RFC 7009): records, checks the client, forgets the token.
pub(crate) fn revocation(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Resp {
    let form = Params::parse(body);
    let token = form.get("token").unwrap_or_default().to_owned();
    let hint = form.get("token_type_hint").map(str::to_owned);
    lock(&inner.state.revoked).push((token.clone(), hint.clone()));
    let auth = presented(headers, &form);
    let mut flow = lock(&inner.state.flow);
    let checked = flow.client.clone().map(|client| {
        let auds = audiences(inner, Endpoint::Revocation);
        authenticate(&client, &auth, &form, &auds, &mut flow.jtis, now())
    });
    let status = match checked {
        Some(Err(_)) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    if status == StatusCode::OK {
        flow.refresh.remove(&token);
        lock(&inner.state.userinfo).remove(&token);
    }
    flow.revocations.push(RevocationCall {
        token,
        token_type_hint: hint,
        auth,
        status: status.as_u16(),
    });
    if status == StatusCode::OK {
        text(StatusCode::OK, "text/plain", "")
    } else {
        json_resp(status, &json!({"error": "invalid_client"}))
    }
}

impl Inner {
    /// RS256 with the current provider key (kid set).
    fn sign_flow_token(&self, claims: &Value) -> String {
        let keys = lock(&self.keys);
        let key = keys.rsa.last().expect("an RSA key");
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&h, claims, &key.encoding_key()).expect("sign")
    }
}

fn s256(verifier: &str) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if is_unreserved(b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) fn redirect(location: &str) -> Resp {
    let mut r = text(StatusCode::FOUND, "text/plain", "");
    r.headers_mut()
        .insert(header::LOCATION, location.parse().expect("redirect target"));
    r
}
