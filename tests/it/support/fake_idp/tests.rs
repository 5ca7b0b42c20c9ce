//! Self-tests of the FakeIdp: what other tests rely on actually behaves as documented.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::*;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(
    c: &HttpClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(StatusCode, http::HeaderMap, Bytes), hyper_util::client::legacy::Error> {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let resp = c.request(req).await?;
    let (parts, body) = resp.into_parts();
    Ok((
        parts.status,
        parts.headers,
        body.collect().await.expect("body").to_bytes(),
    ))
}

async fn get_json(c: &HttpClient, url: &str) -> Value {
    let (status, _, body) = call(c, Method::GET, url, &[], "").await.expect("GET");
    assert_eq!(status, StatusCode::OK, "{url}");
    serde_json::from_slice(&body).expect("JSON")
}

fn verify(token: &str, jwks: &Value, alg: Algorithm, aud: &str) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("JWKS");
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid;
    let jwk = set
        .find(kid.as_deref().unwrap_or_default())
        .ok_or("kid not in JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(alg);
    v.set_audience(&[aud]);
    decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn discovery_jwks_signing_and_rotation() {
    let idp = FakeIdp::start().await;
    let c = client();
    let doc = get_json(&c, &idp.discovery_url()).await;
    assert_eq!(doc["issuer"], json!(idp.issuer()));
    assert_eq!(doc["jwks_uri"], json!(idp.url(Endpoint::Jwks)));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    let (_, headers, body) = call(&c, Method::GET, &idp.url(Endpoint::Jwks), &[], "")
        .await
        .expect("jwks");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    let jwks: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));

    let claims = idp.claims_for("alice", "api", json!({"scope": "a b", "exp": null}));
    assert!(claims.get("exp").is_none());
    let claims = idp.claims_for("alice", json!(["api", "other"]), json!({}));
    let rs = idp.sign(claims.clone());
    assert_eq!(
        verify(&rs, &jwks, Algorithm::RS256, "api").expect("RS256")["sub"],
        "alice"
    );
    let es = idp.sign_es256(claims.clone());
    assert!(verify(&es, &jwks, Algorithm::ES256, "other").is_ok());

    let old = idp.kid();
    let new = idp.rotate();
    assert_ne!(old, new);
    assert_eq!(idp.kid(), new);
    let rotated = get_json(&c, &idp.url(Endpoint::Jwks)).await;
    assert!(
        verify(&rs, &rotated, Algorithm::RS256, "api").is_err(),
        "old kid gone"
    );
    assert!(verify(&idp.sign(claims.clone()), &rotated, Algorithm::RS256, "api").is_ok());
    assert!(verify(
        &idp.sign_with_kid(&old, claims),
        &jwks,
        Algorithm::RS256,
        "api"
    )
    .is_ok());
    assert_eq!(idp.hits(Endpoint::Jwks), 2);
    assert_eq!(idp.hits(Endpoint::Discovery), 1);
}

#[tokio::test]
async fn hostile_tokens_do_not_verify() {
    let idp = FakeIdp::start().await;
    let jwks = idp.inner.jwks();
    let claims = idp.claims_for("mallory", "api", json!({}));
    let good = idp.sign(claims.clone());
    assert!(verify(&good, &jwks, Algorithm::RS256, "api").is_ok());
    let tampered = FakeIdp::tamper(&good, json!({"sub": "admin"}));
    assert!(verify(&tampered, &jwks, Algorithm::RS256, "api").is_err());
    let none = idp.token_alg_none(claims.clone(), "nOnE");
    assert!(none.ends_with('.'), "empty signature");
    for t in idp.hs256_public_key_variants(claims.clone()) {
        assert!(verify(&t, &jwks, Algorithm::RS256, "api").is_err());
    }
    let crit = idp.token_with_raw_header(
        json!({"alg": "RS256", "kid": idp.kid(), "crit": ["exp"], "exp": 1}),
        claims.clone(),
    );
    assert!(
        verify(&crit, &jwks, Algorithm::RS256, "api").is_ok(),
        "valid signature; only crit is wrong"
    );
    assert!(verify(
        &idp.token_with_embedded_jwk(claims.clone(), true),
        &jwks,
        Algorithm::RS256,
        "api"
    )
    .is_err());
    assert!(verify(
        &idp.token_signed_by_stranger(claims.clone()),
        &jwks,
        Algorithm::RS256,
        "api"
    )
    .is_err());
    let jku = idp.token_with_jku(claims);
    let header = jsonwebtoken::decode_header(&jku).expect("header");
    assert_eq!(
        header.jku.as_deref(),
        Some(idp.url(Endpoint::AttackerJwks).as_str())
    );
    assert_eq!(idp.hits(Endpoint::AttackerJwks), 0);
}

#[tokio::test]
async fn introspection_auth_registry_and_userinfo() {
    let idp = FakeIdp::start_with(FakeIdpOptions::teamwork()).await;
    assert!(idp
        .discovery_url()
        .ends_with("/authentication/.well-known/oidc-configuration"));
    assert!(idp.issuer().ends_with("/authentication"));
    let c = client();
    let url = idp.url(Endpoint::Introspection);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let tok = idp.new_reference_token(json!({"active": true, "sub": "bob", "scope": "api1"}));
    let basic = format!("Basic {}", STANDARD.encode("api1:api1-secret"));
    let wrong = format!("Basic {}", STANDARD.encode("api1:nope"));
    let ok = [form[0], ("authorization", basic.as_str())];
    let (s, _, b) = call(&c, Method::POST, &url, &ok, &format!("token={tok}"))
        .await
        .expect("call");
    assert_eq!(
        (
            s,
            serde_json::from_slice::<Value>(&b).expect("json")["sub"].clone()
        ),
        (StatusCode::OK, json!("bob"))
    );
    let (s, _, b) = call(&c, Method::POST, &url, &ok, "token=unknown")
        .await
        .expect("call");
    assert_eq!(
        (s, serde_json::from_slice::<Value>(&b).expect("json")),
        (StatusCode::OK, json!({"active": false}))
    );
    let bad = [form[0], ("authorization", wrong.as_str())];
    let (s, _, _) = call(&c, Method::POST, &url, &bad, "token=x")
        .await
        .expect("call");
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let post = format!("token={tok}&client_id=api1&client_secret=api1%2Dsecret");
    let (s, _, _) = call(&c, Method::POST, &url, &form, &post)
        .await
        .expect("call");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        idp.last_introspection_auth(),
        Some(ClientAuthSeen::Post("api1".into(), "api1-secret".into()))
    );

    let jwt = idp.sign(idp.claims_for("carol", "api", json!({"email": "c@example.com"})));
    let bearer = format!("Bearer {jwt}");
    let ui = call(
        &c,
        Method::GET,
        &idp.url(Endpoint::Userinfo),
        &[("authorization", &bearer)],
        "",
    )
    .await
    .expect("ui");
    let ui: Value = serde_json::from_slice(&ui.2).expect("json");
    assert_eq!(ui, json!({"sub": "carol", "email": "c@example.com"}));
    idp.add_userinfo("opaque", json!({"sub": "s", "role": ["user", "admin"]}));
    let ui = call(
        &c,
        Method::GET,
        &idp.url(Endpoint::Userinfo),
        &[("authorization", "Bearer opaque")],
        "",
    )
    .await
    .expect("ui");
    assert_eq!(
        serde_json::from_slice::<Value>(&ui.2).expect("json")["role"],
        json!(["user", "admin"])
    );
}

#[tokio::test]
async fn failure_modes_and_gate() {
    let idp = Arc::new(FakeIdp::start().await);
    let c = client();
    let url = idp.discovery_url();
    idp.set_mode(Endpoint::Discovery, Mode::Down);
    assert!(
        call(&c, Method::GET, &url, &[], "").await.is_err(),
        "connection dropped"
    );
    for (mode, status) in [
        (Mode::Unavailable, 503),
        (Mode::Error500, 500),
        (Mode::NotJson, 200),
        (Mode::Unauthorized, 401),
    ] {
        idp.set_mode(Endpoint::Discovery, mode);
        let (s, _, body) = call(&c, Method::GET, &url, &[], "")
            .await
            .expect("answered");
        assert_eq!(s.as_u16(), status);
        if mode == Mode::NotJson {
            assert!(serde_json::from_slice::<Value>(&body).is_err());
        }
    }
    idp.set_mode(Endpoint::Discovery, Mode::Normal);

    idp.hold(Endpoint::Introspection);
    let basic = format!("Basic {}", STANDARD.encode("api1:api1-secret"));
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (c, url, basic) = (c.clone(), idp.url(Endpoint::Introspection), basic.clone());
        tasks.push(tokio::spawn(async move {
            call(
                &c,
                Method::POST,
                &url,
                &[("authorization", &basic)],
                "token=t",
            )
            .await
            .map(|r| r.0)
        }));
    }
    assert!(idp.wait_for_hits(Endpoint::Introspection, 5).await);
    tokio::task::yield_now().await;
    assert!(tasks.iter().all(|t| !t.is_finished()), "held");
    idp.release(Endpoint::Introspection);
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("answered"), StatusCode::OK);
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 5);
    idp.reset_hits();
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
}
