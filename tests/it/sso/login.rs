//! The login chain: protected page → (start) → provider authorize → callback → the
//! original URL with identity headers; what the authorization request carries; login
//! hints; several tabs at once; a new login replacing the session; userinfo completion.

use serde_json::json;

use super::{authorize_hop, session_sets, Bed, Setup, CLIENT_ID, CLIENT_SECRET};
use crate::support::browser::{enc, Browser};
use crate::support::fake_idp::{ClientAuthUsed, Endpoint, Grant};

/// Follows gateway hops from `url` until a redirect points at the provider's authorize
/// endpoint; returns that authorize URL (not fetched).
pub async fn until_authorize(bed: &Bed, browser: &Browser, url: &str) -> String {
    until_redirect_to(browser, url, &bed.idp.url(Endpoint::Authorize)).await
}

/// Follows hops from `url` until a redirect points at a URL starting with `prefix`;
/// returns that URL (not fetched).
pub async fn until_redirect_to(browser: &Browser, url: &str, prefix: &str) -> String {
    let mut next = url.to_owned();
    for _ in 0..5 {
        let hop = browser.get(&next).await;
        let target = hop
            .next_url()
            .unwrap_or_else(|| panic!("no redirect towards {prefix}: {}", hop.describe()));
        if target.starts_with(prefix) {
            return target;
        }
        next = target;
    }
    panic!("no redirect to {prefix} after 5 hops from {url}");
}

#[tokio::test]
async fn full_login_chain_returns_to_the_original_url_with_identity_headers() {
    let bed = Bed::standard().await;
    let chain = bed.login("/app/page?x=1").await;
    let first = &chain.hops[0];
    assert_eq!(first.status, 302, "{}", chain.describe());
    let auth = authorize_hop(&bed, &chain);
    assert_eq!(auth.status, 302, "{}", chain.describe());
    let callback = chain
        .hop_to(&bed.url("/oauth2/callback"))
        .unwrap_or_else(|| panic!("no callback hop:\n{}", chain.describe()));
    assert_eq!(callback.status, 302, "{}", chain.describe());
    assert_eq!(
        callback.next_url().as_deref(),
        Some(bed.url("/app/page?x=1").as_str())
    );
    let page = chain.last();
    assert_eq!(page.json()["path"], "/app/page");
    assert_eq!(page.json()["query"], "x=1");
    assert_eq!(page.echoed("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(
        page.echoed("x-auth-email").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        page.echoed("x-auth-groups").as_deref(),
        Some("admins,staff")
    );
    assert_eq!(page.echoed("x-auth-subject").as_deref(), Some("sub-alice"));

    // The authorization request.
    let q = bed.idp.last_authorization().expect("authorize request");
    assert!(
        bed.idp.authorize_rejections().is_empty(),
        "{:?}",
        bed.idp.authorize_rejections()
    );
    assert_eq!(q.get("response_type"), Some("code"));
    assert_eq!(q.get("client_id"), Some(CLIENT_ID));
    assert_eq!(
        q.get("redirect_uri"),
        Some(bed.url("/oauth2/callback").as_str())
    );
    assert_eq!(q.get("code_challenge_method"), Some("S256"));
    assert_eq!(q.get("code_challenge").map(str::len), Some(43));
    let mut scopes: Vec<&str> = q.get("scope").unwrap_or_default().split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["email", "offline_access", "openid", "profile"]);
    assert_eq!(q.get("prompt"), Some("login"), "auth_params");
    assert_eq!(q.get("acr_values"), Some("urn:test:loa:2"), "auth_params");
    let state = q.get("state").expect("state");
    let nonce = q.get("nonce").expect("nonce");
    assert!(
        state.len() >= 16 && nonce.len() >= 16,
        "state/nonce too short"
    );
    assert_ne!(state, nonce);
    let cb: Vec<(String, String)> = callback.query();
    assert!(cb.contains(&("state".into(), state.into())), "{cb:?}");

    // The code exchange.
    let calls = bed.idp.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].grant, Grant::AuthorizationCode);
    assert_eq!(calls[0].status, 200, "{:?}", calls[0].error);
    assert_eq!(
        calls[0].auth,
        ClientAuthUsed::Basic(CLIENT_ID.into(), CLIENT_SECRET.into())
    );
    assert_eq!(calls[0].form.get("redirect_uri"), q.get("redirect_uri"));

    // Signed in: the next navigation goes straight through.
    let hop = bed.browser.get(&bed.url("/app/other")).await;
    assert_eq!(hop.status, 200, "{}", hop.describe());
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(bed.idp.authorizations().len(), 1);
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 1);
}

#[tokio::test]
async fn start_passes_login_hint_and_returns_to_rd() {
    let bed = Bed::standard().await;
    let start = format!(
        "/oauth2/start?rd={}&login_hint={}",
        enc("/app/hinted?y=2"),
        enc("alice@example.com")
    );
    let chain = bed.browser.follow(&bed.url(&start)).await;
    let last = chain.last();
    assert_eq!(
        (last.status, last.url.as_str()),
        (200, bed.url("/app/hinted?y=2").as_str()),
        "{}",
        chain.describe()
    );
    let q = bed.idp.last_authorization().expect("authorize");
    assert_eq!(q.get("login_hint"), Some("alice@example.com"));
}

#[tokio::test]
async fn a_new_login_replaces_the_session_with_a_fresh_one() {
    let bed = Bed::standard().await;
    bed.login("/app/a").await;
    let before = bed.session_cookies(&bed.browser);
    assert!(!before.is_empty(), "no session cookie after login");
    // The same user again: a fresh session (no fixation).
    let again = bed
        .browser
        .follow(&bed.url(&format!("/oauth2/start?rd={}", enc("/app/b"))))
        .await;
    assert_eq!(again.last().status, 200, "{}", again.describe());
    let sets = session_sets(&again);
    assert!(
        !sets.is_empty(),
        "re-login issued no session cookie:\n{}",
        again.describe()
    );
    let after = bed.session_cookies(&bed.browser);
    assert_ne!(before, after, "session cookie unchanged after a new login");
    // Another user: the old identity is gone.
    bed.as_user("bob");
    let chain = bed
        .browser
        .follow(&bed.url(&format!("/oauth2/start?rd={}", enc("/app/c"))))
        .await;
    assert_eq!(
        chain.last().echoed("x-auth-user").as_deref(),
        Some("bob"),
        "{}",
        chain.describe()
    );
    let hop = bed.browser.get(&bed.url("/app/d")).await;
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("bob"));
}

#[tokio::test]
async fn several_tabs_logging_in_at_once_all_succeed() {
    let bed = Bed::standard().await;
    let mut pending = Vec::new();
    for tab in 0..3 {
        let url = bed.url(&format!("/app/tab{tab}"));
        pending.push((tab, until_authorize(&bed, &bed.browser, &url).await));
    }
    for (tab, authorize) in pending.into_iter().rev() {
        let chain = bed.browser.follow(&authorize).await;
        let last = chain.last();
        assert_eq!(
            (last.status, last.url.as_str()),
            (200, bed.url(&format!("/app/tab{tab}")).as_str()),
            "tab {tab}:\n{}",
            chain.describe()
        );
    }
    assert_eq!(bed.idp.token_count(Grant::AuthorizationCode), 3);
}

#[tokio::test]
async fn userinfo_completes_a_missing_preferred_username() {
    let bed = Bed::start(Setup::default().provider("userinfo: auto")).await;
    bed.idp.set_omit_preferred_username(true);
    let chain = bed.login("/app/x").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
    assert!(
        bed.idp.hits(Endpoint::Userinfo) >= 1,
        "userinfo was not asked"
    );
}

#[tokio::test]
async fn userinfo_with_another_sub_refuses_the_login() {
    let bed = Bed::standard().await;
    bed.idp.set_omit_preferred_username(true);
    bed.idp
        .set_userinfo_patch(json!({"sub": "sub-mallory", "preferred_username": "mallory"}));
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    let last = chain.last();
    assert!(
        last.status >= 400 && last.status != 500,
        "expected a 4xx/502 refusal:\n{}\n{}",
        chain.describe(),
        last.text()
    );
    assert!(
        bed.session_cookies(&bed.browser).is_empty(),
        "a session was issued"
    );
}

#[tokio::test]
async fn the_redirect_uri_comes_from_public_url_not_the_host_header() {
    let bed = Bed::standard().await;
    let hop = bed
        .browser
        .request(
            "GET",
            &bed.url("/app/x"),
            crate::support::browser::Kind::Navigate,
            &[("host", "evil.example:8443")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(hop.status, 302, "{}", hop.describe());
    let loc = hop.location().unwrap_or_default().to_owned();
    assert!(
        !loc.contains("evil.example"),
        "Host header leaked into {loc}"
    );
    let next = hop.next_url().expect("next");
    let authorize = if next.starts_with(&bed.idp.url(Endpoint::Authorize)) {
        next
    } else {
        until_authorize(&bed, &bed.browser, &next).await
    };
    assert!(!authorize.contains("evil.example"), "{authorize}");
    let redirect_uri = crate::support::browser::query_of(&authorize)
        .into_iter()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v);
    assert_eq!(redirect_uri, Some(bed.url("/oauth2/callback")));
}
