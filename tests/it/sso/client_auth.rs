//! The code exchange with each configured client authentication: client_secret_basic,
//! client_secret_post, private_key_jwt (RS256 and ES256 keys from a PEM file; assertion
//! checked strictly by the FakeIdp) and none (public client + PKCE); a provider refusing
//! the client leaves no session.

use super::{Auth, Bed, Setup, CLIENT_ID, CLIENT_SECRET};
use crate::support::fake_idp::{ClientAuthMethod, ClientAuthUsed, ClientKey, Endpoint, Grant};

/// Logs in through `/app/x` and returns the code-exchange call.
async fn login_and_exchange(setup: Setup) -> (Bed, crate::support::fake_idp::TokenCall) {
    let bed = Bed::start(setup).await;
    let chain = bed.login("/app/x").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
    let calls = bed.idp.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].grant, Grant::AuthorizationCode);
    let call = calls[0].clone();
    (bed, call)
}

#[tokio::test]
async fn client_secret_basic() {
    let (_bed, call) = login_and_exchange(Setup::default().auth(Auth::Basic)).await;
    assert_eq!(
        call.auth,
        ClientAuthUsed::Basic(CLIENT_ID.into(), CLIENT_SECRET.into())
    );
    assert!(
        call.form.get("client_secret").is_none(),
        "secret sent twice"
    );
}

#[tokio::test]
async fn client_secret_post() {
    let (_bed, call) = login_and_exchange(Setup::default().auth(Auth::Post)).await;
    assert_eq!(
        call.auth,
        ClientAuthUsed::Post(CLIENT_ID.into(), CLIENT_SECRET.into())
    );
}

#[tokio::test]
async fn private_key_jwt_with_rs256_and_es256_keys() {
    for (alg, key) in [("RS256", ClientKey::rsa()), ("ES256", ClientKey::ec())] {
        let (bed, call) = login_and_exchange(Setup::default().auth(Auth::Jwt(key))).await;
        let ClientAuthUsed::PrivateKeyJwt(_, claims) = &call.auth else {
            panic!("{alg}: expected a client assertion, got {:?}", call.auth);
        };
        assert_eq!(claims["iss"], CLIENT_ID, "{alg}");
        assert_eq!(claims["sub"], CLIENT_ID, "{alg}");
        let token_url = bed.idp.url(Endpoint::Token);
        let aud_ok = claims["aud"] == token_url.as_str()
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == token_url.as_str()));
        assert!(aud_ok, "{alg}: aud {}", claims["aud"]);
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64().expect("exp"));
        assert!(
            exp - iat.unwrap_or(exp - 1) <= 300,
            "{alg}: assertion lives too long"
        );
        assert!(
            claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
            "{alg}: jti"
        );
    }
}

#[tokio::test]
async fn private_key_jwt_uses_a_fresh_jti_per_exchange() {
    let bed = Bed::start(Setup::default().auth(Auth::Jwt(ClientKey::ec()))).await;
    bed.login("/app/one").await;
    let second = crate::support::browser::Browser::new();
    bed.login_with(&second, "/app/two").await;
    let jtis: Vec<String> = bed
        .idp
        .token_calls()
        .iter()
        .filter_map(|c| match &c.auth {
            ClientAuthUsed::PrivateKeyJwt(_, claims) => claims["jti"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(jtis.len(), 2);
    assert_ne!(jtis[0], jtis[1], "jti reused");
}

#[tokio::test]
async fn public_client_sends_only_its_id_and_pkce() {
    let (_bed, call) = login_and_exchange(Setup::default().auth(Auth::Public)).await;
    assert_eq!(call.auth, ClientAuthUsed::None(CLIENT_ID.into()));
    assert!(call
        .form
        .get("code_verifier")
        .is_some_and(|v| v.len() >= 43));
}

#[tokio::test]
async fn a_refused_client_gets_an_error_page_and_no_session() {
    let bed = Bed::standard().await;
    // The provider now expects another secret: the exchange fails with invalid_client.
    bed.idp.register_client(
        CLIENT_ID,
        ClientAuthMethod::SecretBasic("rotated-elsewhere".into()),
        &bed.url("/oauth2/callback"),
    );
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    let last = chain.last();
    assert!(
        last.status >= 400 && last.status != 500,
        "expected an error page (4xx/502), got:\n{}\n{}",
        chain.describe(),
        last.text()
    );
    assert_eq!(bed.idp.token_calls()[0].status, 401);
    assert!(
        bed.session_cookies(&bed.browser).is_empty(),
        "session issued"
    );
}
