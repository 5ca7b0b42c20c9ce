//! API authentication (issue 4), proven through a running gateway with the echo upstream
//! behind it and the in-process FakeIdp in front of it: credentials, JWT validation and
//! hostile tokens, the JWKS cache, introspection, identity headers, access policies,
//! providers (discovery, readiness, userinfo) and auth metrics.

mod credentials;
mod headers;
mod introspection;
mod jwks;
mod jwt;
mod metadata;
mod policy;
mod providers;
mod seeds;
mod userinfo;

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::support::bearer::{standard, start_ready, AUD};
use crate::support::echo_upstream;
use crate::support::fake_idp::{now, FakeIdp};
use crate::support::TestGateway;

/// Claims of user `name` for the standard audience: `sub` = `sub-<name>`,
/// `preferred_username` = name, `email` = `<name>@example.com`, `groups` = `[staff]`,
/// then `extra` merged in (`null` removes a claim).
pub fn user(idp: &FakeIdp, name: &str, extra: Value) -> Value {
    let mut base = json!({
        "preferred_username": name,
        "email": format!("{name}@example.com"),
        "groups": ["staff"],
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    idp.claims_for(&format!("sub-{name}"), AUD, base)
}

/// An RFC 7662 answer for an active token of user `name`, IdentityServer style (`role`
/// array, space-separated `scope`, `client_id`), then `extra` merged in (`null` removes).
pub fn active(idp: &FakeIdp, name: &str, extra: Value) -> Value {
    let t = now();
    let mut body = json!({
        "active": true,
        "iss": idp.issuer(),
        "aud": AUD,
        "sub": format!("sub-{name}"),
        "preferred_username": name,
        "client_id": "mobile-app",
        "scope": "api1.read openid",
        "role": ["user"],
        "iat": t,
        "exp": t + 300,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    body
}

/// A FakeIdp, the echo upstream and a ready gateway with [`standard`] config (route `api`
/// on `/` with `route_extra`).
pub async fn standard_bed(route_extra: &[&str]) -> (FakeIdp, SocketAddr, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&standard(&idp, up, route_extra)).await;
    (idp, up, gw)
}
