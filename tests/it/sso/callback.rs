//! Callback attacks and provider errors: state mismatch/missing, login CSRF (no attempt
//! cookie), replayed callbacks, wrong nonce, PKCE failures (including a code injected
//! into another attempt), RFC 9207 `iss`, and `error=access_denied`. None may leave a
//! session; the ones caught before the exchange must not call the token endpoint.

use super::login::until_authorize;
use serde_json::json;

use super::{Bed, Setup};
use crate::support::browser::{enc, query_of, Browser, Hop};
use crate::support::fake_idp::Grant;

/// Runs the flow up to the provider's redirect back; returns the callback URL (unfetched).
async fn callback_url(bed: &Bed, browser: &Browser, path: &str) -> String {
    let authorize = until_authorize(bed, browser, &bed.url(path)).await;
    let hop = browser.get(&authorize).await;
    assert_eq!(hop.status, 302, "{}\n{}", hop.describe(), hop.text());
    hop.next_url().expect("callback URL")
}

/// `url` with query parameter `key` replaced (or removed with `None`).
fn with_param(url: &str, key: &str, value: Option<&str>) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let mut pairs: Vec<String> = query_of(url)
        .into_iter()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| format!("{k}={}", enc(&v)))
        .collect();
    if let Some(v) = value {
        pairs.push(format!("{key}={}", enc(v)));
    }
    format!("{base}?{}", pairs.join("&"))
}

fn param(url: &str, key: &str) -> String {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}

#[track_caller]
fn assert_refused(bed: &Bed, browser: &Browser, hop: &Hop, what: &str) {
    assert!(
        hop.status >= 400 && hop.status != 500,
        "{what}: expected an error page (4xx/502), got {}\n{}",
        hop.describe(),
        hop.text()
    );
    assert!(
        bed.session_cookies(browser).is_empty(),
        "{what}: a session cookie was issued"
    );
}

#[tokio::test]
async fn state_mismatch_or_missing_is_400_and_no_token_request() {
    let bed = Bed::standard().await;
    let cb = callback_url(&bed, &bed.browser, "/app/x").await;
    for (what, url) in [
        (
            "forged state",
            with_param(&cb, "state", Some("forged-state-value")),
        ),
        ("missing state", with_param(&cb, "state", None)),
        ("empty state", with_param(&cb, "state", Some(""))),
        ("no parameters", bed.url("/oauth2/callback")),
        (
            "code only",
            format!("{}?code=abc", bed.url("/oauth2/callback")),
        ),
    ] {
        let hop = bed.browser.get(&url).await;
        assert_eq!(
            hop.status,
            400,
            "{what}: {}\n{}",
            hop.describe(),
            hop.text()
        );
        assert!(
            bed.session_cookies(&bed.browser).is_empty(),
            "{what}: session"
        );
    }
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 0);
}

#[tokio::test]
async fn callback_without_the_attempt_cookie_is_refused_login_csrf() {
    let bed = Bed::standard().await;
    // The attacker completes the provider step and sends the victim the callback URL.
    let attacker = Browser::new();
    let cb = callback_url(&bed, &attacker, "/app/x").await;
    let victim = Browser::new();
    let hop = victim.get(&cb).await;
    assert_eq!(hop.status, 400, "{}\n{}", hop.describe(), hop.text());
    assert!(bed.session_cookies(&victim).is_empty());
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 0);
}

#[tokio::test]
async fn a_replayed_callback_never_yields_a_second_session() {
    let bed = Bed::standard().await;
    let cb = callback_url(&bed, &bed.browser, "/app/x").await;
    let before = bed.browser.fork();
    let chain = bed.browser.follow(&cb).await;
    assert_eq!(chain.last().status, 200, "{}", chain.describe());
    // Same browser: its attempt cookie is gone, so nothing is exchanged.
    let hop = bed.browser.get(&cb).await;
    assert_eq!(
        hop.status,
        400,
        "replay: {}\n{}",
        hop.describe(),
        hop.text()
    );
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 1);
    // A copy of the jar from before the callback still holds the attempt: the provider
    // refuses the used code and no session results.
    let hop = before.get(&cb).await;
    assert_refused(&bed, &before, &hop, "replay with the old attempt cookie");
    let calls = bed.idp.token_calls();
    assert!(calls.len() <= 2, "{calls:?}");
    if let Some(second) = calls.get(1) {
        assert_eq!(
            second.status, 400,
            "the provider must have refused the code"
        );
    }
}

#[tokio::test]
async fn a_wrong_nonce_in_the_id_token_is_refused() {
    let bed = Bed::standard().await;
    bed.idp.set_wrong_nonce(true);
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    assert_refused(&bed, &bed.browser, chain.last(), "wrong nonce");
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 1);
}

#[tokio::test]
async fn a_pkce_failure_at_the_provider_leaves_no_session() {
    let bed = Bed::standard().await;
    bed.idp.set_tamper_pkce(true);
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    assert_refused(&bed, &bed.browser, chain.last(), "PKCE refused");
    let calls = bed.idp.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 400, "{:?}", calls[0].error);
}

#[tokio::test]
async fn a_code_injected_into_another_attempt_fails_pkce() {
    let bed = Bed::standard().await;
    let cb1 = callback_url(&bed, &bed.browser, "/app/one").await;
    let cb2 = callback_url(&bed, &bed.browser, "/app/two").await;
    // Attempt 1's state with attempt 2's code: exchanged with attempt 1's verifier.
    let injected = with_param(&cb1, "code", Some(&param(&cb2, "code")));
    let hop = bed.browser.get(&injected).await;
    assert_refused(&bed, &bed.browser, &hop, "injected code");
    let calls = bed.idp.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let why = calls[0].error.clone().map(|e| e.1).unwrap_or_default();
    assert!(why.contains("PKCE"), "refused for another reason: {why}");
}

/// The callback URL of a login on `bed` (with or without an `iss`) is refused (400)
/// before any token request and leaves no session; once the provider sends its own
/// issuer, a login succeeds.
async fn refused_until_the_issuer_is_right(bed: &Bed, what: &str, with_iss: bool) {
    let cb = callback_url(bed, &bed.browser, "/app/x").await;
    assert_eq!(cb.contains("iss="), with_iss, "{what}: {cb}");
    let hop = bed.browser.get(&cb).await;
    assert_eq!(
        hop.status,
        400,
        "{what}: {}\n{}",
        hop.describe(),
        hop.text()
    );
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 0);
    assert!(bed.session_cookies(&bed.browser).is_empty());
    let issuer = bed.idp.issuer();
    bed.idp.set_authorize_iss(Some(&issuer));
    let chain = bed.login_with(&Browser::new(), "/app/y").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn the_iss_parameter_must_be_the_issuer() {
    let bed = Bed::standard().await;
    bed.idp
        .set_authorize_iss(Some("http://127.0.0.1:1/not-the-issuer"));
    refused_until_the_issuer_is_right(&bed, "wrong iss", true).await;
}

#[tokio::test]
async fn a_provider_that_announces_iss_must_send_it() {
    // RFC 9207 §2.4: with `authorization_response_iss_parameter_supported`, a response
    // without `iss` may come from another provider (mix-up): refused.
    let bed = Bed::start(Setup {
        discovery_patch: Some(json!({"authorization_response_iss_parameter_supported": true})),
        ..Setup::default()
    })
    .await;
    bed.idp.set_authorize_iss(None);
    refused_until_the_issuer_is_right(&bed, "no iss", false).await;
}

#[tokio::test]
async fn access_denied_is_a_clear_403_page() {
    let bed = Bed::standard().await;
    bed.idp.set_authorize_error(Some("access_denied"));
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    let last = chain.last();
    assert!(
        last.url.starts_with(&bed.url("/oauth2/callback")),
        "{}",
        chain.describe()
    );
    assert_eq!(last.status, 403, "{}\n{}", chain.describe(), last.text());
    assert!(bed.session_cookies(&bed.browser).is_empty());
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 0);
    // The refused attempt is over: its cookie is cleared, and the same callback again
    // finds no attempt.
    assert!(
        super::attempt_cookies(&bed.browser).is_empty(),
        "{:?}",
        bed.browser.cookies()
    );
    assert_eq!(bed.browser.get(&last.url).await.status, 400);
}

#[tokio::test]
async fn id_token_claims_are_fully_validated() {
    let bed = Bed::standard().await;
    let now = crate::support::fake_idp::now();
    let ok = |patch| (true, patch);
    let bad = |patch| (false, patch);
    for (accepted, patch) in [
        ok(json!({"aud": ["portcullis", "other"], "azp": "portcullis"})),
        bad(json!({"aud": ["portcullis", "other"]})),
        bad(json!({"aud": ["portcullis", "other"], "azp": "other"})),
        bad(json!({"aud": "other"})),
        bad(json!({"iss": "http://127.0.0.1:1"})),
        bad(json!({"exp": now - 600})),
        bad(json!({"iat": now + 3600, "exp": now + 7200})),
        bad(json!({"nonce": null})),
    ] {
        bed.idp.set_id_token_patch(patch.clone());
        let browser = Browser::new();
        let chain = browser.follow(&bed.url("/app/x")).await;
        let last = chain.last();
        if accepted {
            assert_eq!(
                last.status,
                200,
                "{patch}: {}\n{}",
                chain.describe(),
                last.text()
            );
        } else {
            assert_refused(&bed, &browser, last, &format!("ID token {patch}"));
        }
    }
}

#[tokio::test]
async fn an_id_token_outside_the_signing_alg_allowlist_is_refused() {
    // The FakeIdp signs ID tokens RS256; this provider only allows ES256.
    let bed = Bed::start(super::Setup::default().provider("signing_algs: [ES256]")).await;
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    assert_refused(
        &bed,
        &bed.browser,
        chain.last(),
        "RS256 ID token, ES256 only",
    );
}

#[tokio::test]
async fn a_token_type_other_than_bearer_fails_the_login() {
    // RFC 6749 §7.1: a client must not use a token whose type it does not understand.
    let bed = Bed::standard().await;
    let mut exchanges = 0;
    for token_type in [Some("mac"), Some("MAC"), Some("N_A"), Some("DPoP"), None] {
        bed.idp.set_token_type(token_type);
        let browser = Browser::new();
        let chain = browser.follow(&bed.url("/app/x")).await;
        let what = format!("token_type {token_type:?}");
        assert_eq!(chain.last().status, 403, "{what}: {}", chain.describe());
        assert_refused(&bed, &browser, chain.last(), &what);
        exchanges += 1;
        assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), exchanges);
    }
    // `Bearer` in any case is the one type that works.
    bed.idp.set_token_type(Some("bEaReR"));
    let chain = bed.login_with(&Browser::new(), "/app/y").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_callback_repeating_any_parameter_is_400_before_any_token_request() {
    // RFC 6749 §3.1: parameters must not be included more than once; the first value
    // must not simply win.
    use crate::support::fake_idp::Endpoint;
    let bed = Bed::standard().await;
    let cb = callback_url(&bed, &bed.browser, "/app/x").await;
    let (state, code) = (param(&cb, "state"), param(&cb, "code"));
    let issuer = enc(&bed.idp.issuer());
    for extra in [
        format!("code={code}"),
        "code=injected".to_owned(),
        format!("state={state}"),
        format!("%73tate={state}"),
        "c%6Fde=injected".to_owned(),
        format!("iss={issuer}&iss={issuer}"),
        "error=access_denied&error=access_denied".to_owned(),
        "error_description=a&error_description=b".to_owned(),
        "session_state=a&session_state=b".to_owned(),
        "scope=openid&scope=openid".to_owned(),
    ] {
        let url = format!("{cb}&{extra}");
        let hop = bed.browser.get(&url).await;
        assert_eq!(
            hop.status,
            400,
            "{extra}: {}\n{}",
            hop.describe(),
            hop.text()
        );
        assert!(bed.session_cookies(&bed.browser).is_empty(), "{extra}");
    }
    assert_eq!(bed.idp.hits(Endpoint::Token), 0, "a token request was made");
    // Refused before the attempt was looked up: the genuine callback still completes.
    let chain = bed.browser.follow(&cb).await;
    assert_eq!(chain.last().status, 200, "{}", chain.describe());
    assert_eq!(bed.idp.hits(Endpoint::Token), 1);
}
