//! FakeIdp's RFC 8693 token-exchange grant at `/connect/token`: authenticates the
//! registered client like the code flow does, accepts only subject tokens this provider
//! signed (and that have not expired), and issues a new RS256 access token for the
//! requested audience and scope. Counts and records every exchange; a test can make it
//! refuse, or change the issued token's lifetime.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::client_auth::{authenticate, presented, ClientAuthUsed};
use super::flow::Params;
use super::server::{json_resp, Resp};
use super::state::{lock, Endpoint};
use super::{now, random_hex, FakeIdp, Inner};

/// `grant_type` of a token exchange.
pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The access-token type URI.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// One token-exchange request.
#[derive(Debug, Clone)]
pub struct ExchangeCall {
    /// The form body.
    pub form: Params,
    /// The client authentication it presented.
    pub auth: ClientAuthUsed,
    /// The status answered.
    pub status: u16,
    /// The access token issued, when it was.
    pub issued: Option<String>,
}

/// Exchange switches and records (one mutex in `State`).
#[derive(Default)]
pub(crate) struct ExchangeState {
    pub(crate) hits: AtomicU64,
    calls: std::sync::Mutex<Vec<ExchangeCall>>,
    refusal: std::sync::Mutex<Option<(u16, String)>>,
    expires_in: std::sync::Mutex<Option<u64>>,
}

type Refusal = (StatusCode, String, String);

/// Answers a token-exchange grant.
pub(crate) fn token_exchange(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Resp {
    let ex = &inner.state.exchange;
    ex.hits.fetch_add(1, Ordering::SeqCst);
    let form = Params::parse(body);
    let auth = presented(headers, &form);
    let result = exchange(inner, &form, &auth);
    let (status, issued) = match &result {
        Ok(v) => (200, v["access_token"].as_str().map(str::to_owned)),
        Err((s, _, _)) => (s.as_u16(), None),
    };
    lock(&ex.calls).push(ExchangeCall {
        form,
        auth,
        status,
        issued,
    });
    let mut resp = match result {
        Ok(v) => json_resp(StatusCode::OK, &v),
        Err((s, e, d)) => json_resp(s, &json!({"error": e, "error_description": d})),
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    resp
}

fn exchange(inner: &Inner, form: &Params, auth: &ClientAuthUsed) -> Result<Value, Refusal> {
    let invalid_grant = |d: &str| (StatusCode::BAD_REQUEST, "invalid_grant".into(), d.into());
    let client_id = {
        let mut flow = lock(&inner.state.flow);
        let client = flow.client.clone().ok_or((
            StatusCode::UNAUTHORIZED,
            "invalid_client".into(),
            "no client registered".into(),
        ))?;
        let token_url = format!("{}{}", inner.base, inner.path_of(Endpoint::Token));
        authenticate(&client, auth, form, &[token_url], &mut flow.jtis, now())
            .map_err(|d| (StatusCode::UNAUTHORIZED, "invalid_client".into(), d))?;
        client.client_id
    };
    if let Some((status, error)) = lock(&inner.state.exchange.refusal).clone() {
        let status = StatusCode::from_u16(status).expect("status");
        return Err((status, error, "refused by switch".into()));
    }
    if form.get("subject_token_type") != Some(ACCESS_TOKEN_TYPE) {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request".into(),
            "subject_token_type must be the access-token type".into(),
        ));
    }
    let subject = form.get("subject_token").unwrap_or_default();
    let claims = inner
        .verify_own(subject)
        .ok_or_else(|| invalid_grant("subject_token is not a live token of this provider"))?;
    let t = now();
    let expires_in = lock(&inner.state.exchange.expires_in).unwrap_or(300);
    let mut issued = json!({
        "iss": inner.issuer(), "sub": claims["sub"], "client_id": client_id,
        "act": {"sub": client_id}, "iat": t, "exp": t + expires_in, "jti": random_hex(8),
    });
    if let Some(aud) = form.get("audience") {
        issued["aud"] = json!(aud);
    }
    if let Some(scope) = form.get("scope") {
        issued["scope"] = json!(scope);
    }
    let access_token = {
        let keys = lock(&inner.keys);
        let key = keys.rsa.last().expect("an RSA key");
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&h, &issued, &key.encoding_key()).expect("sign")
    };
    Ok(json!({
        "access_token": access_token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
}

impl Inner {
    /// The claims of a JWT this provider signed with a key it publishes, if still valid.
    fn verify_own(&self, token: &str) -> Option<Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(self.jwks()).ok()?;
        let key = jsonwebtoken::DecodingKey::from_jwk(set.find(header.kid.as_deref()?)?).ok()?;
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.validate_aud = false;
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .ok()
            .map(|d| d.claims)
    }
}

impl FakeIdp {
    /// Token-exchange requests that reached the grant (after gates and modes).
    pub fn exchange_hits(&self) -> u64 {
        self.inner.state.exchange.hits.load(Ordering::SeqCst)
    }

    /// Every token-exchange request, in order.
    pub fn exchanges(&self) -> Vec<ExchangeCall> {
        lock(&self.inner.state.exchange.calls).clone()
    }

    /// From now on, refuse exchanges with this status and OAuth error (`None`: accept).
    pub fn refuse_exchanges(&self, refusal: Option<(u16, &str)>) {
        *lock(&self.inner.state.exchange.refusal) = refusal.map(|(s, e)| (s, e.to_owned()));
    }

    /// The `expires_in` of exchanged tokens (default 300).
    pub fn set_exchange_expires_in(&self, secs: u64) {
        *lock(&self.inner.state.exchange.expires_in) = Some(secs);
    }
}
