//! Each replica keeps decrypted copies of the session records it served, kept current by
//! Redis pub/sub: a sign-out or back-channel logout takes effect at once on the replica
//! that handled it and within about a second on every other one (polled here with a
//! bounded deadline, never a fixed sleep).

use std::time::Duration;

use serde_json::json;

use super::{post_logout, Pair};
use crate::support::bearer::poll;
use crate::support::browser::Browser;

/// How long another replica may take to apply an invalidation (the promise is a second).
const WITHIN: Duration = Duration::from_secs(5);

/// Uses `browser`'s session a few times on `url`, so that the replica has a copy.
async fn warm(browser: &Browser, url: &str) {
    for _ in 0..3 {
        let hop = browser.api_get(url).await;
        assert_eq!(hop.status, 200, "{}: {}", hop.describe(), hop.text());
    }
}

/// Whether `browser`'s requests to `url` are refused (401) within [`WITHIN`].
pub async fn refused_within(browser: &Browser, url: &str) -> bool {
    poll(WITHIN, || async {
        browser.api_get(url).await.status == 401
    })
    .await
}

#[tokio::test]
async fn sign_out_ends_a_cached_session_here_at_once_and_on_the_other_replica_soon() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    warm(&browser, &pair.a("/app/x")).await;
    warm(&browser, &pair.b("/app/x")).await;
    let stolen = browser.fork();
    let chain = browser.follow(&pair.b("/oauth2/sign_out")).await;
    assert_eq!(chain.hops[0].status, 302, "{}", chain.describe());
    // The replica that handled the sign-out: at once.
    let hop = stolen.api_get(&pair.b("/app/x")).await;
    assert_eq!(hop.status, 401, "{}: {}", hop.describe(), hop.text());
    // The other one dropped its copy when Redis announced the deletion.
    assert!(
        refused_within(&stolen, &pair.a("/app/x")).await,
        "replica A still serves a signed-out session after {WITHIN:?}"
    );
}

#[tokio::test]
async fn a_backchannel_logout_ends_cached_sessions_on_every_replica() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    warm(&browser, &pair.a("/app/x")).await;
    warm(&browser, &pair.b("/app/x")).await;
    let r = post_logout(&pair.public_b, &pair.logout_token(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let hop = browser.api_get(&pair.b("/app/x")).await;
    assert_eq!(
        hop.status,
        401,
        "handling replica, at once: {}",
        hop.describe()
    );
    assert!(
        refused_within(&browser, &pair.a("/app/x")).await,
        "replica A still serves a session ended by back-channel logout"
    );
}

#[tokio::test]
async fn a_new_login_ends_the_previous_cached_session_everywhere() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    warm(&browser, &pair.a("/app/x")).await;
    warm(&browser, &pair.b("/app/x")).await;
    let before = browser.fork();
    // Log in again through A in the same browser (it still sends the old cookie).
    let start = format!(
        "/oauth2/start?rd={}",
        crate::support::browser::enc("/app/x")
    );
    let chain = browser.follow(&pair.a(&start)).await;
    assert_eq!(chain.last().status, 200, "{}", chain.describe());
    assert_eq!(before.api_get(&pair.a("/app/x")).await.status, 401);
    assert!(
        refused_within(&before, &pair.b("/app/x")).await,
        "replica B still serves the session a new login replaced"
    );
    assert_eq!(browser.api_get(&pair.b("/app/x")).await.status, 200);
}
