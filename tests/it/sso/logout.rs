//! Logout (`/oauth2/sign_out`): every session cookie chunk cleared, the refresh token
//! then the access token revoked with `token_type_hint`, the provider's end_session
//! reached with `id_token_hint`, `post_logout_redirect_uri` and `client_id`; without an
//! end_session endpoint, `rd` or `logout_redirect`. Afterwards navigation means login.

use std::time::Duration;

use serde_json::json;

use super::{Bed, Setup, CLIENT_ID, CLIENT_SECRET};
use crate::support::browser::{enc, origin_of, Browser};
use crate::support::fake_idp::{ClientAuthUsed, Rfc8414Form};

#[tokio::test]
async fn logout_clears_chunks_revokes_tokens_and_ends_the_provider_session() {
    let bed = Bed::start(Setup::default().server("limits: { max_header_bytes: 65536 }")).await;
    let groups: Vec<String> = (0..90)
        .map(|i| format!("team-with-a-rather-long-name-{i:03}"))
        .collect();
    let mut claims = super::user_claims("alice");
    claims["groups"] = json!(groups);
    bed.idp.set_login_user("sub-alice", claims);
    bed.login("/app/x").await;
    let issued = bed.idp.last_issued().expect("issued");
    let before: Vec<String> = bed
        .session_cookies(&bed.browser)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(
        before.len() >= 2,
        "want a chunked session for this test: {before:?}"
    );

    let chain = bed.browser.follow(&bed.url("/oauth2/sign_out")).await;
    let first = &chain.hops[0];
    assert_eq!(first.status, 302, "{}", chain.describe());
    for name in &before {
        assert!(
            first.set_cookie(name).is_some_and(|c| c.is_deletion()),
            "sign_out did not delete {name}: {:?}",
            first
                .set_cookies
                .iter()
                .map(|c| c.raw.clone())
                .collect::<Vec<_>>()
        );
    }
    assert!(bed.session_cookies(&bed.browser).is_empty());

    // end_session with the hints.
    let ends = bed.idp.end_sessions();
    assert_eq!(ends.len(), 1, "end_session calls:\n{}", chain.describe());
    assert_eq!(ends[0].get("id_token_hint"), issued.id_token.as_deref());
    assert_eq!(ends[0].get("client_id"), Some(CLIENT_ID));
    let back = ends[0]
        .get("post_logout_redirect_uri")
        .expect("post_logout_redirect_uri");
    assert_eq!(
        origin_of(back),
        bed.public,
        "post_logout_redirect_uri {back}"
    );
    assert_eq!(
        origin_of(&chain.final_url()),
        bed.public,
        "{}",
        chain.describe()
    );

    // Revocation: refresh token first, then the access token, with hints (may finish
    // after the redirect, so poll).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while bed.idp.revocations().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let revoked = bed.idp.revocations();
    let seen: Vec<(String, Option<String>)> = revoked
        .iter()
        .map(|r| (r.token.clone(), r.token_type_hint.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                issued.refresh_token.clone().expect("rt"),
                Some("refresh_token".into())
            ),
            (issued.access_token.clone(), Some("access_token".into())),
        ]
    );
    for r in &revoked {
        assert_eq!(
            r.auth,
            ClientAuthUsed::Basic(CLIENT_ID.into(), CLIENT_SECRET.into())
        );
        assert_eq!(r.status, 200);
    }

    // Signed out: navigation starts a login again, API calls get 401.
    let hop = bed.browser.get(&bed.url("/app/x")).await;
    assert_eq!(hop.status, 302, "{}", hop.describe());
    assert_eq!(bed.browser.api_get(&bed.url("/app/x")).await.status, 401);
}

#[tokio::test]
async fn without_end_session_logout_goes_to_rd_or_logout_redirect() {
    let bed = Bed::start(Setup {
        discovery_patch: Some(json!({"end_session_endpoint": null, "revocation_endpoint": null})),
        ..Setup::default().session("logout_redirect: \"/open/bye\"")
    })
    .await;
    bed.login("/app/x").await;
    let chain = bed.browser.follow(&bed.url("/oauth2/sign_out")).await;
    assert_eq!(
        chain.final_url(),
        bed.url("/open/bye"),
        "{}",
        chain.describe()
    );
    assert!(bed.session_cookies(&bed.browser).is_empty());
    bed.login("/app/x").await;
    let with_rd = format!("/oauth2/sign_out?rd={}", enc("/open/custom"));
    let chain = bed.browser.follow(&bed.url(&with_rd)).await;
    assert_eq!(
        chain.final_url(),
        bed.url("/open/custom"),
        "{}",
        chain.describe()
    );
    assert!(bed.idp.end_sessions().is_empty());
    assert!(bed.idp.revocations().is_empty());
    assert_eq!(bed.browser.get(&bed.url("/app/x")).await.status, 302);
}

#[tokio::test]
async fn sign_out_without_a_session_is_harmless() {
    let bed = Bed::standard().await;
    let chain = Browser::new().follow(&bed.url("/oauth2/sign_out")).await;
    assert!(
        chain.hops.iter().all(|h| h.status != 500),
        "{}",
        chain.describe()
    );
    assert_eq!(
        origin_of(&chain.final_url()),
        bed.public,
        "{}",
        chain.describe()
    );
    assert!(bed.idp.revocations().is_empty());
}

/// Real providers (IdentityServer, oidc-provider) only accept a registered
/// `post_logout_redirect_uri`, compared exactly. With `rd` on the sign-out URL the
/// gateway must still send a registered one (e.g. the public root, carrying `rd` in
/// `state`), or the user is stuck on the provider's error page.
#[tokio::test]
async fn logout_with_rd_works_with_a_provider_that_checks_post_logout_redirect_uri() {
    let bed = Bed::standard().await;
    bed.idp
        .set_post_logout_redirect_uris(Some(vec![bed.url("/"), bed.url("/oauth2/sign_out")]));
    bed.login("/app/x").await;
    let url = bed.url(&format!("/oauth2/sign_out?rd={}", enc("/open/bye")));
    let chain = bed.browser.follow(&url).await;
    let last = chain.last();
    assert_eq!(bed.idp.end_sessions().len(), 1, "{}", chain.describe());
    assert_eq!(
        chain.final_url(),
        bed.url("/open/bye"),
        "stuck at the provider ({} {}):\n{}\nsent post_logout_redirect_uri: {:?}",
        last.status,
        last.text(),
        chain.describe(),
        bed.idp.end_sessions()[0].get("post_logout_redirect_uri")
    );
}

/// A provider library that lists its revocation endpoint only in RFC 8414 metadata
/// (issue 19 item 8): sign-out still revokes there.
#[tokio::test]
async fn sign_out_revokes_at_an_endpoint_found_only_in_rfc8414_metadata() {
    let bed = Bed::start(Setup {
        discovery_patch: Some(json!({"revocation_endpoint": null})),
        ..Setup::default()
    })
    .await;
    bed.idp.serve_rfc8414(Some(Rfc8414Form::Inserted));
    let provider = bed.gw.running.gateway.snapshot().providers[0].clone();
    provider.discover().await.expect("rediscovered");
    bed.login("/app/x").await;
    let issued = bed.idp.last_issued().expect("issued");
    let chain = bed.browser.follow(&bed.url("/oauth2/sign_out")).await;
    assert_eq!(chain.hops[0].status, 302, "{}", chain.describe());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while bed.idp.revocations().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let revoked: Vec<String> = bed.idp.revocations().into_iter().map(|r| r.token).collect();
    assert_eq!(
        revoked,
        [issued.refresh_token.expect("rt"), issued.access_token]
    );
}
