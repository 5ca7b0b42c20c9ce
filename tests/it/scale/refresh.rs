//! Refresh across replicas: when a session's access token is due, concurrent requests on
//! both replicas spend the (rotating) refresh token exactly once; the others continue
//! from the refreshed record instead of being logged out by an `invalid_grant`.

use std::time::Duration;

use super::Pair;
use crate::support::fake_idp::{now, Grant};

#[tokio::test]
async fn concurrent_refreshes_on_two_replicas_spend_the_refresh_token_once() {
    let pair = Pair::start().await;
    let idp = &pair.bed.idp;
    // 31 s: the gateway refreshes once less than 30 s are left, i.e. a second from now.
    idp.set_token_lifetime(31);
    let browser = pair.signed_in().await;
    idp.set_token_lifetime(300);
    let due = idp.last_issued().expect("issued").expires_at - 30;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while now() <= due {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clock did not advance"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = idp.token_count(Grant::RefreshToken);

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let url = if i % 2 == 0 {
                pair.a("/app/x")
            } else {
                pair.b("/app/x")
            };
            let b = browser.clone();
            tokio::spawn(async move {
                let hop = b.api_get(&url).await;
                (hop.status, hop.describe())
            })
        })
        .collect();
    for t in tasks {
        let (status, what) = t.await.expect("request task");
        assert_eq!(status, 200, "{what}");
    }
    let calls: Vec<_> = idp
        .token_calls()
        .into_iter()
        .filter(|c| c.grant == Grant::RefreshToken)
        .map(|c| (c.status, c.error))
        .collect();
    assert_eq!(
        idp.token_count(Grant::RefreshToken) - before,
        1,
        "one refresh across both replicas: {calls:?}"
    );

    // The rotated refresh token is what Redis holds: both replicas go on without
    // another refresh.
    for url in [pair.a("/app/x"), pair.b("/app/x")] {
        assert_eq!(browser.api_get(&url).await.status, 200);
    }
    assert_eq!(idp.token_count(Grant::RefreshToken) - before, 1);
}
