//! Session and login-attempt cookies: attributes over http and behind TLS, stripping the
//! gateway's cookies before the upstream, chunking of big sessions (and clearing stale
//! chunks), the bound on attempt cookies, tampered/truncated/foreign cookies, and
//! `secrets` rotation.

use serde_json::json;

use super::login::until_authorize;
use super::{attempt_cookies, session_cookies, session_sets, user_claims, Bed, Setup, SESSION};
use crate::support::browser::{Browser, Cookie, Hop};

#[track_caller]
fn assert_attrs(c: &Cookie, secure: bool) {
    assert!(c.http_only, "{}: not HttpOnly", c.raw);
    assert_eq!(
        c.same_site
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("lax"),
        "{}",
        c.raw
    );
    assert_eq!(c.path, "/", "{}", c.raw);
    assert!(c.domain.is_none(), "{}: Domain set", c.raw);
    assert_eq!(c.secure, secure, "{}: Secure", c.raw);
    assert_eq!(
        c.name.starts_with("__Host-"),
        secure,
        "{}: __Host- prefix",
        c.raw
    );
}

#[track_caller]
fn assert_no_session(hop_nav: &Hop, hop_api: &Hop, what: &str) {
    assert_eq!(
        hop_nav.status,
        302,
        "{what}: navigation {}",
        hop_nav.describe()
    );
    assert_eq!(
        hop_api.status,
        401,
        "{what}: API {}\n{}",
        hop_api.describe(),
        hop_api.text()
    );
    let _ = hop_api.json();
}

#[tokio::test]
async fn cookie_attributes_over_plain_http() {
    let bed = Bed::standard().await;
    let chain = bed.login("/app/x").await;
    let attempts: Vec<&Cookie> = chain
        .hops
        .iter()
        .flat_map(|h| h.set_cookies.iter())
        .filter(|c| c.name.contains("_login_") && !c.is_deletion())
        .collect();
    assert_eq!(
        attempts.len(),
        1,
        "one attempt cookie:\n{}",
        chain.describe()
    );
    assert_attrs(attempts[0], false);
    assert!(
        attempts[0].max_age.is_some_and(|m| m > 0 && m <= 600),
        "{}",
        attempts[0].raw
    );
    let sets = session_sets(&chain);
    assert!(!sets.is_empty(), "no session cookie set");
    for c in &sets {
        assert_attrs(c, false);
    }
    assert!(
        attempt_cookies(&bed.browser).is_empty(),
        "attempt cookie not cleared"
    );
}

#[tokio::test]
async fn cookie_attributes_behind_tls_are_host_prefixed_and_secure() {
    let bed = Bed::start(Setup {
        scheme: "https",
        ..Setup::default()
    })
    .await;
    let chain = bed.login("/app/x").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
    let sets = session_sets(&chain);
    assert!(!sets.is_empty(), "no session cookie:\n{}", chain.describe());
    for c in chain.hops.iter().flat_map(|h| h.set_cookies.iter()) {
        assert_attrs(c, true);
    }
    assert!(!session_cookies(&bed.browser, "__Host-portcullis").is_empty());
}

#[tokio::test]
async fn own_cookies_are_stripped_and_app_cookies_pass_untouched() {
    let bed = Bed::standard().await;
    bed.browser.put_cookie("theme", "dark");
    bed.login("/app/x").await;
    bed.browser.put_cookie("portcullis-app", "keep=me");
    let hop = bed.browser.get(&bed.url("/app/y")).await;
    assert_eq!(hop.status, 200, "{}", hop.describe());
    assert!(hop
        .sent_cookie
        .as_deref()
        .unwrap_or_default()
        .contains("portcullis="));
    assert_eq!(
        hop.echoed("cookie").as_deref(),
        Some("theme=dark; portcullis-app=keep=me"),
        "upstream Cookie header"
    );
    // Also on an open route, and with a (forged) attempt cookie.
    bed.browser
        .put_cookie("portcullis_login_0123456789abcdef", "x");
    let hop = bed.browser.get(&bed.url("/open/z")).await;
    assert_eq!(
        hop.echoed("cookie").as_deref(),
        Some("theme=dark; portcullis-app=keep=me")
    );
}

/// Claims of a user with many long group names (a session that needs chunks).
fn big_user() -> serde_json::Value {
    let groups: Vec<String> = (0..90)
        .map(|i| format!("team-with-a-rather-long-name-{i:03}"))
        .collect();
    let mut c = user_claims("carol");
    c["groups"] = json!(groups);
    c
}

#[tokio::test]
async fn big_sessions_are_chunked_reassembled_and_stale_chunks_cleared() {
    let bed = Bed::start(Setup::default().server("limits: { max_header_bytes: 65536 }")).await;
    bed.idp.set_login_user("sub-carol", big_user());
    let chain = bed.login("/app/x").await;
    let groups = chain.last().echoed("x-auth-groups").unwrap_or_default();
    assert_eq!(
        groups.split(',').count(),
        90,
        "groups reassembled: {groups}"
    );
    let chunks = bed.session_cookies(&bed.browser);
    assert!(
        chunks.len() >= 2,
        "expected chunks, got {:?}",
        names(&chunks)
    );
    for c in session_sets(&chain) {
        assert!(
            c.raw.len() < 4096,
            "{}: Set-Cookie of {} bytes",
            c.name,
            c.raw.len()
        );
    }
    let hop = bed.browser.get(&bed.url("/app/again")).await;
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("carol"));
    // One chunk missing: no session.
    let partial = bed.browser.fork();
    partial.remove_cookie(&chunks[chunks.len() - 1].name);
    assert_no_session(
        &partial.fork().get(&bed.url("/app/x")).await,
        &partial.fork().api_get(&bed.url("/app/x")).await,
        "missing chunk",
    );
    // A small session replaces the big one: every stale chunk is deleted.
    bed.as_user("bob");
    let chain = bed
        .browser
        .follow(&bed.url("/oauth2/start?rd=%2Fapp%2Fsmall"))
        .await;
    assert_eq!(
        chain.last().echoed("x-auth-user").as_deref(),
        Some("bob"),
        "{}",
        chain.describe()
    );
    let now_set: Vec<String> = session_sets(&chain).into_iter().map(|c| c.name).collect();
    let left = names(&bed.session_cookies(&bed.browser));
    assert!(
        left.iter().all(|n| now_set.contains(n)),
        "stale chunks left in the jar: {left:?} (set by the new login: {now_set:?})"
    );
}

fn names(cookies: &[Cookie]) -> Vec<String> {
    cookies.iter().map(|c| c.name.clone()).collect()
}

#[tokio::test]
async fn login_attempt_cookies_are_bounded_oldest_dropped() {
    let bed = Bed::standard().await;
    let mut authorize_urls = Vec::new();
    for i in 0..10 {
        let url = bed.url(&format!("/app/p{i}"));
        authorize_urls.push(until_authorize(&bed, &bed.browser, &url).await);
    }
    let live = attempt_cookies(&bed.browser);
    assert!(
        (1..=5).contains(&live.len()),
        "{} attempt cookies live: {:?}",
        live.len(),
        names(&live)
    );
    // The newest attempt completes; the oldest was dropped.
    let chain = bed.browser.follow(&authorize_urls[9]).await;
    assert_eq!(chain.last().url, bed.url("/app/p9"), "{}", chain.describe());
    assert_eq!(chain.last().status, 200);
    let oldest = bed.browser.fork();
    let hop = oldest.get(&authorize_urls[0]).await;
    let cb = hop.next_url().expect("callback");
    assert_eq!(
        oldest.get(&cb).await.status,
        400,
        "dropped attempt still accepted"
    );
}

#[tokio::test]
async fn tampered_truncated_or_foreign_session_cookies_are_no_session() {
    let bed = Bed::standard().await;
    bed.login("/app/x").await;
    let value = bed
        .browser
        .cookie(SESSION)
        .expect("unchunked session cookie")
        .value;
    let other = Bed::standard().await;
    other.login("/app/x").await;
    let foreign = other
        .browser
        .cookie(SESSION)
        .expect("foreign session")
        .value;
    let mid = value.len() / 2;
    let flipped = {
        let mut b = value.clone().into_bytes();
        b[mid] = if b[mid] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).expect("ascii")
    };
    for (what, v) in [
        ("one character changed", flipped),
        ("truncated", value[..mid].to_owned()),
        (
            "last character dropped",
            value[..value.len() - 1].to_owned(),
        ),
        ("junk appended", format!("{value}AAAA")),
        ("empty", String::new()),
        ("garbage", "not-a-session".to_owned()),
        ("sealed with another key", foreign),
    ] {
        let b = Browser::new();
        b.put_cookie(SESSION, &v);
        let nav = b.fork().get(&bed.url("/app/x")).await;
        let api = b.fork().api_get(&bed.url("/app/x")).await;
        assert_no_session(&nav, &api, what);
    }
    // The genuine cookie still works.
    let hop = bed.browser.get(&bed.url("/app/y")).await;
    assert_eq!(hop.status, 200);
}

#[tokio::test]
async fn secrets_rotation_first_encrypts_all_decrypt() {
    let old = super::new_secret();
    let new = super::new_secret();
    let bed = Bed::start(Setup {
        secrets: vec![old.clone()],
        ..Setup::default()
    })
    .await;
    bed.login("/app/x").await;
    // Cookies are per host, not per port: the same jar talks to the other gateways.
    let (_gw2, both) = bed
        .another(&Setup {
            secrets: vec![new.clone(), old],
            ..Setup::default()
        })
        .await;
    let hop = bed.browser.fork().get(&format!("{both}/app/x")).await;
    assert_eq!(
        hop.status,
        200,
        "old secret no longer decrypts: {}",
        hop.describe()
    );
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("alice"));
    let (_gw3, only_new) = bed
        .another(&Setup {
            secrets: vec![new],
            ..Setup::default()
        })
        .await;
    let b = bed.browser.fork();
    assert_no_session(
        &b.fork().get(&format!("{only_new}/app/x")).await,
        &b.fork().api_get(&format!("{only_new}/app/x")).await,
        "retired secret",
    );
    // A login on the gateway with [new, old] seals with the first (new) secret.
    bed.idp.set_redirect_uri(&format!("{both}/oauth2/callback"));
    let fresh = Browser::new();
    let chain = fresh.follow(&format!("{both}/app/y")).await;
    assert_eq!(chain.last().status, 200, "{}", chain.describe());
    let hop = fresh.fork().get(&format!("{only_new}/app/x")).await;
    assert_eq!(
        hop.status,
        200,
        "not sealed with the first secret: {}",
        hop.describe()
    );
    assert_no_session(
        &fresh.fork().get(&bed.url("/app/x")).await,
        &fresh.fork().api_get(&bed.url("/app/x")).await,
        "sealed with the new secret, read with only the old one",
    );
}

#[tokio::test]
async fn a_session_too_big_for_the_header_limit_is_never_set() {
    // The default `max_header_bytes` (16 KiB): a session of this size would make every
    // later request of the browser a 431, sign-out included, until it expired.
    let bed = Bed::standard().await;
    let mut huge = big_user();
    huge["groups"] = json!((0..120)
        .map(|i| format!("team-with-a-rather-long-name-{i:03}"))
        .collect::<Vec<_>>());
    bed.idp.set_login_user("sub-carol", huge);
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    assert_eq!(chain.last().status, 500, "{}", chain.describe());
    assert!(bed.session_cookies(&bed.browser).is_empty());
    // Not locked out: answered (a new login), not refused for its header size.
    let hop = bed.browser.get(&bed.url("/app/x")).await;
    assert_eq!(hop.status, 302, "{}", hop.describe());
}
