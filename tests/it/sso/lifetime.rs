//! Session time limits and refresh: `idle_timeout` and `lifetime` enforced from the
//! times inside the cookie (smallest durations the config allows, polled with bounded
//! deadlines), transparent refresh near access-token expiry with exactly one refresh for
//! concurrent requests and the rotated refresh token used next, and refresh failure
//! ending the session.

use std::time::Duration;

use super::{Bed, Setup};
use crate::support::browser::{Browser, Hop};
use crate::support::fake_idp::{now, Grant};

/// Polls `check` (every 100 ms, up to `limit`) until it yields a hop; panics otherwise.
async fn poll_until<F, Fut>(limit: Duration, what: &str, mut check: F) -> Hop
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Hop>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(hop) = check().await {
            return hop;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the wall clock is past `expires_at` by a whole second (the gateway
/// computes its own expiry from `expires_in`, possibly a second later).
async fn wait_past(expires_at: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while now() <= expires_at + 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clock did not advance"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn idle_timeout_ends_an_unused_session() {
    let bed = Bed::start(Setup::default().session("idle_timeout: 2s")).await;
    bed.login("/app/x").await;
    // A copy of the cookie as it was at login, never updated: it goes idle.
    let frozen = bed.browser.fork();
    let url = bed.url("/app/x");
    let api = poll_until(Duration::from_secs(10), "idle session refused", || {
        let (b, url) = (frozen.fork(), url.clone());
        async move {
            let hop = b.api_get(&url).await;
            assert!(hop.status == 200 || hop.status == 401, "{}", hop.describe());
            (hop.status == 401).then_some(hop)
        }
    })
    .await;
    let _ = api.json();
    let nav = frozen.fork().get(&url).await;
    assert_eq!(
        nav.status,
        302,
        "idle session, navigation: {}",
        nav.describe()
    );
}

/// The gateway keeps decoded sessions in a cache; one served from there must still be
/// touched (re-saved with a new `last_seen_at`) once the touch interval has passed.
#[tokio::test]
async fn a_session_served_from_the_cache_is_still_touched_when_due() {
    // idle_timeout 8s: touch interval 2 s.
    let bed = Bed::start(Setup::default().session("idle_timeout: 8s")).await;
    bed.login("/app/x").await;
    let url = bed.url("/app/x");
    let first = bed.browser.fork().api_get(&url).await;
    assert_eq!(first.status, 200, "{}", first.describe());
    assert!(
        first.set_cookie(super::SESSION).is_none(),
        "fresh: no touch"
    );
    // The same cookie again (now cached) until the touch is due.
    poll_until(Duration::from_secs(10), "touch of a cached session", || {
        let (b, url) = (bed.browser.fork(), url.clone());
        async move {
            let hop = b.api_get(&url).await;
            assert_eq!(hop.status, 200, "{}", hop.describe());
            hop.set_cookie(super::SESSION).is_some().then_some(hop)
        }
    })
    .await;
}

#[tokio::test]
async fn absolute_lifetime_ends_even_an_active_session() {
    let bed = Bed::start(Setup::default().session("lifetime: 2s")).await;
    bed.login("/app/x").await;
    let url = bed.url("/app/x");
    let browser = bed.browser.clone();
    // Keep using (and re-storing) the session: activity must not extend the lifetime.
    poll_until(Duration::from_secs(10), "expired session refused", || {
        let (b, url) = (browser.clone(), url.clone());
        async move {
            let hop = b.api_get(&url).await;
            (hop.status == 401).then_some(hop)
        }
    })
    .await;
    let nav = bed.browser.get(&url).await;
    assert_eq!(nav.status, 302, "{}", nav.describe());
}

/// Sends 10 API requests at once, each from an identical copy of `browser`'s jar; returns
/// the responses and the copies (which stored their responses' cookies).
async fn wave(browser: &Browser, url: &str) -> Vec<(Hop, Browser)> {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let b = browser.fork();
            let url = format!("{url}{i}");
            tokio::spawn(async move { (b.api_get(&url).await, b) })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

#[tokio::test]
async fn refresh_near_expiry_happens_once_for_concurrent_requests_and_rotates() {
    let bed = Bed::start(Setup::default().app("pass_access_token: true")).await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    let mut browser = bed.browser.clone();
    for round in 0..2 {
        let before = bed.idp.issued();
        wait_past(before.last().expect("issued").expires_at).await;
        let refreshes = bed.idp.token_count(Grant::RefreshToken);
        let results = wave(&browser, &bed.url("/app/w")).await;
        for (hop, _) in &results {
            assert_eq!(
                hop.status,
                200,
                "round {round}: {}\n{}",
                hop.describe(),
                hop.text()
            );
        }
        let calls = bed.idp.token_calls();
        let new_refreshes: Vec<_> = calls
            .iter()
            .filter(|c| c.grant == Grant::RefreshToken)
            .skip(refreshes)
            .collect();
        assert_eq!(
            new_refreshes.len(),
            1,
            "round {round}: refresh calls {new_refreshes:?}"
        );
        let call = new_refreshes[0];
        assert_eq!(call.status, 200, "round {round}: {:?}", call.error);
        let previous_rt = before.last().and_then(|i| i.refresh_token.clone());
        assert_eq!(
            call.form.get("refresh_token"),
            previous_rt.as_deref(),
            "round {round}: not the latest (rotated) refresh token"
        );
        let latest = bed.idp.last_issued().expect("refreshed tokens");
        assert_eq!(latest.grant, Grant::RefreshToken);
        let bearer = format!("Bearer {}", latest.access_token);
        for (hop, _) in &results {
            assert_eq!(
                hop.echoed("authorization").as_deref(),
                Some(bearer.as_str()),
                "round {round}"
            );
        }
        // Continue with a jar that stored the refreshed session.
        browser = results.into_iter().next().expect("10 results").1;
    }
}

#[tokio::test]
async fn refresh_failure_ends_the_session() {
    let bed = Bed::standard().await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    wait_past(bed.idp.last_issued().expect("issued").expires_at).await;
    bed.idp.set_refresh_error(Some("invalid_grant"));
    let url = bed.url("/app/x");
    let api = bed.browser.fork().api_get(&url).await;
    assert_eq!(
        api.status,
        401,
        "API after refresh failure: {}\n{}",
        api.describe(),
        api.text()
    );
    let _ = api.json();
    let nav = bed.browser.fork().get(&url).await;
    assert_eq!(
        nav.status,
        302,
        "navigation after refresh failure: {}",
        nav.describe()
    );
    assert!(
        bed.idp.token_count(Grant::RefreshToken) >= 1,
        "no refresh attempted"
    );
    // The live browser's session is dropped for good, even once refresh works again.
    let _ = bed.browser.api_get(&url).await;
    bed.idp.set_refresh_error(None);
    let hop = bed.browser.api_get(&url).await;
    assert_eq!(
        hop.status,
        401,
        "session survived a failed refresh: {}",
        hop.describe()
    );
}

/// The `exp` claim of a JWT (no verification: the FakeIdp minted it).
fn exp_of(jwt: &str) -> u64 {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["exp"].as_u64().expect("exp")
}

/// Seed 002: refresh tokens may be reusable. Each time the access token expires, the same
/// refresh token is used again, and the upstream never gets an expired access token.
#[tokio::test]
async fn a_reusable_refresh_token_is_used_again_after_each_expiry() {
    let bed = Bed::start(Setup::default().app("pass_access_token: true")).await;
    bed.idp.set_refresh_rotation(false);
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    let first_rt = bed.idp.issued()[0].refresh_token.clone();
    for round in 0..2 {
        let refreshes = bed.idp.token_count(Grant::RefreshToken);
        wait_past(bed.idp.last_issued().expect("issued").expires_at).await;
        let hop = bed.browser.api_get(&bed.url("/app/x")).await;
        assert_eq!(
            hop.status,
            200,
            "round {round}: {}\n{}",
            hop.describe(),
            hop.text()
        );
        let sent = hop.echoed("authorization").unwrap_or_default();
        let exp = exp_of(sent.trim_start_matches("Bearer "));
        assert!(
            exp > now(),
            "round {round}: the upstream got an access token that expired at {exp} (now {}); \
             refresh calls so far: {}",
            now(),
            bed.idp.token_count(Grant::RefreshToken)
        );
        let calls = bed.idp.token_calls();
        let new: Vec<_> = calls
            .iter()
            .filter(|c| c.grant == Grant::RefreshToken)
            .skip(refreshes)
            .collect();
        assert_eq!(new.len(), 1, "round {round}: refresh calls {new:?}");
        assert_eq!(
            new[0].form.get("refresh_token"),
            first_rt.as_deref(),
            "round {round}"
        );
    }
}

/// OIDC Core §12.2: an ID token returned by a refresh must have the original `iss` and
/// `sub`; one for another subject must not be adopted (it would become the
/// `id_token_hint` at logout).
#[tokio::test]
async fn a_refreshed_id_token_for_another_subject_is_not_adopted() {
    let bed = Bed::standard().await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    let original = bed.idp.issued();
    bed.idp
        .set_id_token_patch(serde_json::json!({"sub": "sub-mallory"}));
    wait_past(bed.idp.last_issued().expect("issued").expires_at).await;
    let hop = bed.browser.api_get(&bed.url("/app/x")).await;
    assert!(
        bed.idp.token_count(Grant::RefreshToken) >= 1,
        "no refresh happened"
    );
    if hop.status == 200 {
        assert_eq!(hop.echoed("x-auth-subject").as_deref(), Some("sub-alice"));
    }
    bed.idp.set_id_token_patch(serde_json::Value::Null);
    let _ = bed.browser.follow(&bed.url("/oauth2/sign_out")).await;
    let hints: Vec<String> = bed
        .idp
        .end_sessions()
        .iter()
        .filter_map(|p| p.get("id_token_hint").map(str::to_owned))
        .collect();
    let mallory: Vec<String> = bed
        .idp
        .issued()
        .iter()
        .skip(original.len())
        .filter_map(|i| i.id_token.clone())
        .collect();
    assert!(
        hints.iter().all(|h| !mallory.contains(h)),
        "the gateway adopted a refreshed ID token for another subject (status after refresh {})",
        hop.status
    );
}

/// A provider that cannot be reached during a refresh, or that asks to slow down (429),
/// is not a refusal: the request gets a 503 (never a 401 or a login redirect) and the
/// session survives for when it is back.
#[tokio::test]
async fn an_unreachable_provider_during_refresh_does_not_end_the_session() {
    use crate::support::fake_idp::Mode;
    for mode in [Mode::Down, Mode::TooManyRequests] {
        unavailable_during_refresh(mode).await;
    }
}

async fn unavailable_during_refresh(mode: crate::support::fake_idp::Mode) {
    let bed = Bed::standard().await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    wait_past(bed.idp.last_issued().expect("issued").expires_at).await;
    bed.idp
        .set_mode(crate::support::fake_idp::Endpoint::Token, mode);
    let url = bed.url("/app/x");
    let hop = bed.browser.api_get(&url).await;
    assert_eq!(
        hop.status,
        503,
        "provider down: {}\n{}",
        hop.describe(),
        hop.text()
    );
    let nav = bed.browser.get(&url).await;
    assert_eq!(
        nav.status,
        503,
        "provider down, navigation: {}",
        nav.describe()
    );
    bed.idp.set_mode(
        crate::support::fake_idp::Endpoint::Token,
        crate::support::fake_idp::Mode::Normal,
    );
    let hop = bed.browser.api_get(&url).await;
    assert_eq!(
        hop.status,
        200,
        "session lost while the provider was down: {}",
        hop.describe()
    );
}

/// RFC 6749 §7.1 holds for refreshes too: new tokens of a type the gateway cannot use
/// end the session rather than reaching the upstream.
#[tokio::test]
async fn a_refresh_that_returns_a_non_bearer_token_type_ends_the_session() {
    let bed = Bed::start(Setup::default().app("pass_access_token: true")).await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    bed.idp.set_token_type(Some("mac"));
    wait_past(bed.idp.last_issued().expect("issued").expires_at).await;
    let before = bed.idp.token_count(Grant::RefreshToken);
    let hop = bed.browser.api_get(&bed.url("/app/x")).await;
    assert_eq!(hop.status, 401, "{}\n{}", hop.describe(), hop.text());
    assert_eq!(bed.idp.token_count(Grant::RefreshToken), before + 1);
    assert!(bed.session_cookies(&bed.browser).is_empty(), "session kept");
}
