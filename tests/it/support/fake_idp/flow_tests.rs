//! Self-tests of the FakeIdp's code flow: authorize → token → refresh → revocation behave
//! as strictly as documented, for every client authentication method.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::client_auth::JWT_BEARER;
use super::flow_server::enc;
use super::*;
use crate::support::client::{send, Resp};

const REDIRECT: &str = "http://127.0.0.1:1/oauth2/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn authorize(idp: &FakeIdp, extra: &str) -> Resp {
    let url = format!(
        "{}?client_id=gw&redirect_uri={}&response_type=code&scope=openid%20profile&state=s1\
         &nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        idp.url(Endpoint::Authorize),
        enc(REDIRECT)
    );
    send("GET", &url, &[], bytes::Bytes::new()).await
}

fn code_of(r: &Resp) -> String {
    assert_eq!(r.status, 302, "{}", r.text());
    let loc = r.header("location").expect("location");
    let q = Params::parse(loc.split_once('?').expect("query").1.as_bytes());
    assert_eq!(q.get("state"), Some("s1"));
    q.get("code").expect("code").to_owned()
}

async fn token(idp: &FakeIdp, headers: &[(&str, &str)], form: &str) -> Resp {
    let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    send(
        "POST",
        &idp.url(Endpoint::Token),
        &h,
        form.to_owned().into(),
    )
    .await
}

fn code_form(code: &str, verifier: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
        enc(REDIRECT)
    )
}

fn assertion(key: &ClientKey, idp: &FakeIdp, claims: Value) -> String {
    let mut c = json!({"iss": "gw", "sub": "gw", "aud": idp.url(Endpoint::Token),
                       "exp": now() + 60, "iat": now(), "jti": random_hex(8)});
    merge(&mut c, claims);
    key.sign_jwt(&c)
}

#[tokio::test]
async fn code_flow_with_basic_auth_pkce_and_refresh_rotation() {
    let idp = FakeIdp::start().await;
    idp.register_client(
        "gw",
        ClientAuthMethod::SecretBasic("s3cret".into()),
        REDIRECT,
    );
    // No user chosen: the login page; malformed requests are redirected with an error.
    assert_eq!(authorize(&idp, "").await.status, 200);
    idp.set_login_user(
        "alice",
        json!({"preferred_username": "alice", "groups": ["admins"]}),
    );
    let r = authorize(&idp, "&state=again").await;
    assert!(r
        .header("location")
        .expect("loc")
        .contains("error=invalid_request"));
    let code = code_of(&authorize(&idp, "&login_hint=alice%40example.com").await);
    assert_eq!(
        idp.last_authorization().expect("seen").get("login_hint"),
        Some("alice@example.com")
    );
    let basic = format!("Basic {}", STANDARD.encode("gw:s3cret"));
    let wrong = format!("Basic {}", STANDARD.encode("gw:nope"));
    let r = token(
        &idp,
        &[("authorization", &wrong)],
        &code_form(&code, VERIFIER),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let bad_pkce = code_form(&code, &"x".repeat(43));
    let r = token(&idp, &[("authorization", &basic)], &bad_pkce).await;
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "PKCE refused (code now burnt)"
    );
    let code = code_of(&authorize(&idp, "").await);
    let r = token(
        &idp,
        &[("authorization", &basic)],
        &code_form(&code, VERIFIER),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    let id: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                body["id_token"]
                    .as_str()
                    .expect("id")
                    .split('.')
                    .nth(1)
                    .expect("p"),
            )
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(
        (id["nonce"].clone(), id["aud"].clone()),
        (json!("n1"), json!("gw"))
    );
    assert_eq!(id["groups"], json!(["admins"]));
    let replay = token(
        &idp,
        &[("authorization", &basic)],
        &code_form(&code, VERIFIER),
    )
    .await;
    assert_eq!(replay.json()["error"], "invalid_grant", "one-time code");

    let rt = body["refresh_token"].as_str().expect("rt").to_owned();
    let form = format!("grant_type=refresh_token&refresh_token={rt}");
    let r = token(&idp, &[("authorization", &basic)], &form).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(
        r.json()["refresh_token"].as_str(),
        Some(rt.as_str()),
        "rotated"
    );
    let r = token(&idp, &[("authorization", &basic)], &form).await;
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "a used refresh token is dead"
    );
    assert_eq!(idp.token_count(Grant::RefreshToken), 2);
    assert_eq!(idp.token_count(Grant::AuthorizationCode), 4);
}

#[tokio::test]
async fn private_key_jwt_post_and_public_clients() {
    let idp = FakeIdp::start().await;
    idp.set_login_user("bob", json!({"preferred_username": "bob"}));
    for key in [ClientKey::rsa(), ClientKey::ec()] {
        idp.register_client(
            "gw",
            ClientAuthMethod::PrivateKeyJwt(key.public_key()),
            REDIRECT,
        );
        let a = assertion(
            &key,
            &idp,
            json!({"jti": format!("j-{}", key.public_key().alg)}),
        );
        let with = |a: &str| {
            format!(
                "client_assertion_type={}&client_assertion={a}",
                enc(JWT_BEARER)
            )
        };
        let code = code_of(&authorize(&idp, "").await);
        let form = format!("{}&{}", code_form(&code, VERIFIER), with(&a));
        assert_eq!(
            token(&idp, &[], &form).await.status,
            200,
            "{}",
            key.public_key().alg
        );
        for (why, bad) in [
            ("jti replayed", a.clone()),
            (
                "long exp",
                assertion(&key, &idp, json!({"exp": now() + 3600})),
            ),
            (
                "wrong aud",
                assertion(&key, &idp, json!({"aud": "https://elsewhere"})),
            ),
            ("iss", assertion(&key, &idp, json!({"iss": "other"}))),
            ("expired", assertion(&key, &idp, json!({"exp": now() - 5}))),
        ] {
            let code = code_of(&authorize(&idp, "").await);
            let form = format!("{}&{}", code_form(&code, VERIFIER), with(&bad));
            let r = token(&idp, &[], &form).await;
            assert_eq!(r.status, 401, "{why}: {}", r.text());
        }
    }
    idp.register_client("gw", ClientAuthMethod::SecretPost("p".into()), REDIRECT);
    let code = code_of(&authorize(&idp, "").await);
    let form = format!(
        "{}&client_id=gw&client_secret=p",
        code_form(&code, VERIFIER)
    );
    assert_eq!(token(&idp, &[], &form).await.status, 200);
    idp.register_client("gw", ClientAuthMethod::None, REDIRECT);
    let code = code_of(&authorize(&idp, "").await);
    let form = format!("{}&client_id=gw", code_form(&code, VERIFIER));
    let r = token(&idp, &[], &form).await;
    assert_eq!(r.status, 200);
    let rt = r.json()["refresh_token"].as_str().expect("rt").to_owned();
    let revoke = format!("token={rt}&token_type_hint=refresh_token&client_id=gw");
    let h = [("content-type", "application/x-www-form-urlencoded")];
    let r = send("POST", &idp.url(Endpoint::Revocation), &h, revoke.into()).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        idp.revocations()[0].token_type_hint.as_deref(),
        Some("refresh_token")
    );
    let form = format!("grant_type=refresh_token&refresh_token={rt}&client_id=gw");
    assert_eq!(
        token(&idp, &[], &form).await.json()["error"],
        "invalid_grant"
    );
}
