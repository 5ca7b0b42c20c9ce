//! The session cookie's seal over time: cookies that no longer authenticate are deleted
//! on the response that refuses them (every chunk, with the attributes they were set
//! with, on every route kind), and a session sealed with an older `session.secrets`
//! entry is sealed again with the current one, once.

use bytes::Bytes;

use super::{is_session_name, new_secret, session_cookies, Bed, Setup, SESSION};
use crate::support::browser::{Browser, Cookie, Hop, Kind};
use crate::support::client::get;

/// The session cookie names `hop` deletes, sorted, after checking that each deletion
/// carries the attributes the cookie was set with (a `__Host-` cookie is only replaced
/// by one with `Secure`, `Path=/` and no `Domain`).
#[track_caller]
fn deletions(set_cookies: &[Cookie], secure: bool) -> Vec<String> {
    let mut names = Vec::new();
    for c in set_cookies.iter().filter(|c| c.is_deletion()) {
        assert_eq!(c.path, "/", "{}", c.raw);
        assert!(c.http_only, "{}", c.raw);
        assert_eq!(c.same_site.as_deref(), Some("Lax"), "{}", c.raw);
        assert!(c.domain.is_none(), "{}", c.raw);
        assert_eq!(c.secure, secure, "{}", c.raw);
        names.push(c.name.clone());
    }
    names.sort();
    names
}

/// Session cookies in `set_cookies` that set a value (not deletions).
fn session_sets(set_cookies: &[Cookie]) -> Vec<&Cookie> {
    set_cookies
        .iter()
        .filter(|c| is_session_name(c.name.trim_start_matches("__Host-"), SESSION))
        .filter(|c| !c.is_deletion())
        .collect()
}

async fn dead_cookies_are_deleted(scheme: &'static str) {
    let bed = Bed::start(Setup {
        scheme,
        ..Setup::default().server("trusted_proxies: [\"127.0.0.1\"]")
    })
    .await;
    let secure = scheme == "https";
    let name = if secure {
        format!("__Host-{SESSION}")
    } else {
        SESSION.to_owned()
    };
    // Chunks that do not authenticate, one of them an index never produced.
    let dead = [
        (format!("{name}_1"), "AAAA"),
        (format!("{name}_0"), "BBBB"),
        (format!("{name}_7"), "CCCC"),
    ];
    let mut expected: Vec<String> = dead.iter().map(|(n, _)| n.clone()).collect();
    // The unchunked name is deleted too, as at sign-out.
    expected.push(name.clone());
    expected.sort();
    let holding = || {
        let b = if secure {
            Browser::behind_tls_proxy()
        } else {
            Browser::new()
        };
        b.put_cookie("theme", "dark");
        for (n, v) in &dead {
            b.put_cookie(n, v);
        }
        b
    };
    for (what, path, kind, status) in [
        ("session route, navigation", "/app/x", Kind::Navigate, 302),
        ("session route, XHR", "/app/x", Kind::Api, 401),
        ("any route, navigation", "/api/x", Kind::Navigate, 302),
        ("any route, XHR", "/api/x", Kind::Api, 401),
        ("userinfo", "/oauth2/userinfo", Kind::Api, 401),
    ] {
        let browser = holding();
        let hop: Hop = browser
            .request("GET", &bed.url(path), kind, &[], Bytes::new())
            .await;
        assert_eq!(hop.status, status, "{scheme} {what}: {}", hop.describe());
        assert_eq!(
            deletions(&hop.set_cookies, secure),
            expected,
            "{scheme} {what}: {:?}",
            hop.set_cookies
        );
        assert!(
            session_cookies(&browser, &name).is_empty(),
            "{scheme} {what}: the browser still holds {:?}",
            browser.cookies()
        );
        assert!(
            browser.cookie("theme").is_some(),
            "an app cookie was touched"
        );
    }
    // Forward-auth: the deletions ride on the 401 for the front proxy to pass on.
    let cookie: Vec<String> = dead.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let r = get(
        &format!("{}/oauth2/auth", bed.gw.url),
        &[("x-original-uri", "/app/y"), ("cookie", &cookie.join("; "))],
    )
    .await;
    assert_eq!(r.status, 401, "forward-auth: {}", r.text());
    let set: Vec<Cookie> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().and_then(Cookie::parse))
        .collect();
    assert_eq!(deletions(&set, secure), expected, "forward-auth");
}

#[tokio::test]
async fn an_unreadable_session_cookie_is_deleted_by_the_response_that_refuses_it() {
    dead_cookies_are_deleted("http").await;
    dead_cookies_are_deleted("https").await;
}

#[tokio::test]
async fn a_live_or_absent_session_deletes_nothing() {
    let bed = Bed::standard().await;
    let hop = bed.browser.api_get(&bed.url("/app/x")).await;
    assert_eq!(hop.status, 401);
    assert!(hop.set_cookies.is_empty(), "{:?}", hop.set_cookies);
    bed.login("/app/x").await;
    let hop = bed.browser.api_get(&bed.url("/app/y")).await;
    assert_eq!(hop.status, 200);
    assert!(hop.set_cookies.is_empty(), "{:?}", hop.set_cookies);
}

#[tokio::test]
async fn a_session_sealed_with_an_older_secret_is_resealed_once() {
    let (old, new) = (new_secret(), new_secret());
    let bed = Bed::start(Setup {
        secrets: vec![old.clone()],
        ..Setup::default()
    })
    .await;
    bed.login("/app/x").await;
    let (_rotated, rotated) = bed
        .another(&Setup {
            secrets: vec![new.clone(), old],
            ..Setup::default()
        })
        .await;
    let (_retired, only_new) = bed
        .another(&Setup {
            secrets: vec![new],
            ..Setup::default()
        })
        .await;
    let browser = bed.browser.fork();
    // Before: the gateway that only knows the new secret cannot read the session.
    assert_eq!(
        browser
            .fork()
            .api_get(&format!("{only_new}/app/x"))
            .await
            .status,
        401
    );
    let first = browser.api_get(&format!("{rotated}/app/x")).await;
    assert_eq!(first.status, 200, "{}", first.describe());
    assert_eq!(
        session_sets(&first.set_cookies).len(),
        1,
        "the first response that accepts it re-seals it: {:?}",
        first.set_cookies
    );
    // Once: the next response has nothing to re-seal.
    let second = browser.api_get(&format!("{rotated}/app/y")).await;
    assert_eq!(second.status, 200, "{}", second.describe());
    assert!(
        second.set_cookies.is_empty(),
        "re-sealed again: {:?}",
        second.set_cookies
    );
    // Sealed with the new secret now: the old one can be retired.
    let hop = browser.api_get(&format!("{only_new}/app/z")).await;
    assert_eq!(hop.status, 200, "not re-sealed with the current secret");
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("alice"));
}
