//! Browser sessions through forward-auth: the session cookie arrives on the sub-request
//! (front proxies forward the client's headers), the identity comes back on the 200, and
//! a session refreshed during the sub-request comes back as `Set-Cookie` on that 200 for
//! the proxy to pass to the browser.

use std::time::Duration;

use crate::sso::{is_session_name, Bed, Setup, SESSION};
use crate::support::client::get;
use crate::support::fake_idp::now;

fn cookie_header(bed: &Bed) -> String {
    bed.session_cookies(&bed.browser)
        .iter()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn session_cookie_authenticates_and_a_refresh_is_passed_back_on_the_200() {
    let bed = Bed::start(Setup::default().server("trusted_proxies: [\"127.0.0.1\"]")).await;
    bed.idp.set_token_lifetime(1);
    bed.login("/app/x").await;
    let cookie = cookie_header(&bed);
    assert!(!cookie.is_empty(), "logged in");
    let auth = bed.url("/oauth2/auth");

    let r = get(&auth, &[("x-original-uri", "/app/y"), ("cookie", &cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    assert_eq!(r.header("x-auth-groups"), Some("admins,staff"));

    // Past the access token's expiry the sub-request refreshes the session: the new
    // cookie rides on the 200.
    let expires_at = bed.idp.issued().last().expect("issued").expires_at;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while now() <= expires_at + 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clock did not advance"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = get(&auth, &[("x-original-uri", "/app/y"), ("cookie", &cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    let refreshed: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| {
            let name = v.split('=').next().unwrap_or_default();
            is_session_name(name.trim_start_matches("__Host-"), SESSION)
        })
        .collect();
    assert!(
        !refreshed.is_empty(),
        "refreshed session cookie on the 200: {:?}",
        r.headers
    );

    // No cookie: a browser gets 401 with the login hint on the public origin.
    let r = get(
        &auth,
        &[("x-original-uri", "/app/y"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let location = r.header("location").expect("login hint");
    let rd = super::login_rd(location, &bed.url("/oauth2/start"));
    assert!(rd.ends_with("/app/y"), "{rd}");
}
