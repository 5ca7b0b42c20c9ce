//! Redirect safety of `rd` after login (`/oauth2/start?rd=`) and after logout
//! (`/oauth2/sign_out?rd=`): every known bypass shape ends at `/` on the public origin;
//! relative paths, the public origin and `allowed_redirect_domains` are honoured.

use super::{Bed, Setup};
use crate::support::browser::{enc, origin_of, path_of, Browser, Chain};

/// The payloads; `{H}` is the gateway's `127.0.0.1:<port>`.
const PAYLOADS: &[&str] = &[
    "//evil.com",
    "///evil.com",
    "////evil.com",
    "/\\evil.com",
    "\\/evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "/%5Cevil.com",
    "/%5cevil.com",
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com",
    "%2F%2Fevil.com",
    "/%09/evil.com",
    "/%0d/evil.com",
    "/\t/evil.com",
    "/\r/evil.com",
    "/\n/evil.com",
    "/\t\r\n/evil.com",
    "/ /evil.com",
    " //evil.com",
    "//evil.com/%2F..",
    "/.//evil.com",
    "/app/..//evil.com",
    "/app/x/../..//evil.com",
    "/%2e%2e//evil.com",
    "/app/%2E%2E/%2F/evil.com",
    "/app%2F..%2F%2Fevil.com",
    "/app%5C..%5C%5Cevil.com",
    "http://{H}/app/..//evil.com",
    "https://app.example.org/x/..//evil.com",
    "https://app.example.org:8443/",
    "http://app.example.org:1/",
    "//evil%2Ecom",
    "https:evil.com",
    "http:evil.com",
    "https:/evil.com",
    "https:\\\\evil.com",
    "https://evil.com",
    "http://evil.com",
    "HTTPS://EVIL.COM/",
    "http://evil.com@{H}/",
    "http://{H}@evil.com/",
    "http://{H}:80@evil.com/",
    "http://evil.com#@{H}/",
    "http://evil.com\\@{H}/",
    "https://{H}.evil.com/",
    "http://{H}.evil.com/",
    "https://{H}/",
    "http://127.0.0.1:1/",
    "http://127.0.0.1/",
    "http://localhost:{P}/",
    "http://[::1]:{P}/",
    "http://2130706433:{P}/",
    "https://example.org.evil.com/",
    "https://evilexample.org/",
    "https://example.org@evil.com/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
];

/// Raw (unencoded) query values, as an attacker would paste them into a link.
const RAW: &[&str] = &[
    "//evil.com",
    "/%5Cevil.com",
    "/%2F%2Fevil.com",
    "https:evil.com",
    "http://evil.com",
    "%2F%2Fevil.com",
];

fn payloads(bed: &Bed) -> Vec<(String, String)> {
    let host = bed.public.trim_start_matches("http://");
    let port = host.rsplit(':').next().unwrap_or_default();
    let fill = |p: &str| p.replace("{H}", host).replace("{P}", port);
    let mut out: Vec<(String, String)> = PAYLOADS
        .iter()
        .map(|p| (format!("{p:?}"), enc(&fill(p))))
        .collect();
    out.extend(RAW.iter().map(|p| (format!("raw {p}"), fill(p))));
    let long = format!("/{}", "a".repeat(5000));
    out.push(("a 5000-byte path".into(), long));
    out
}

/// The chain ended at `/` on the public origin, and the gateway's own redirects were
/// never to anything a browser could read as another origin.
#[track_caller]
fn assert_lands_home(bed: &Bed, chain: &Chain, what: &str) {
    let end = chain.final_url();
    assert!(
        origin_of(&end) == bed.public && path_of(&end) == "/",
        "{what}: ended at {end}:\n{}",
        chain.describe()
    );
    for hop in chain.hops.iter().filter(|h| h.url.starts_with(&bed.public)) {
        let Some(loc) = hop.location() else { continue };
        assert!(
            !loc.bytes()
                .any(|b| b == b'\\' || b.is_ascii_whitespace() || b.is_ascii_control()),
            "{what}: dangerous Location {loc:?}"
        );
    }
}

#[tokio::test]
async fn login_rd_payloads_fall_back_to_root() {
    let bed =
        Bed::start(Setup::default().session("allowed_redirect_domains: [\".example.org\"]")).await;
    for (what, rd) in payloads(&bed) {
        let chain = Browser::new()
            .follow(&bed.url(&format!("/oauth2/start?rd={rd}")))
            .await;
        assert_lands_home(&bed, &chain, &format!("login rd {what}"));
    }
}

#[tokio::test]
async fn login_rd_honours_paths_the_public_origin_and_allowed_domains() {
    let bed =
        Bed::start(Setup::default().session("allowed_redirect_domains: [\".example.org\"]")).await;
    for (rd, expected) in [
        ("/app/ok?z=1".to_owned(), bed.url("/app/ok?z=1")),
        // Dot segments resolved: the browser is sent where the guard judged.
        (
            "/app/x/../ok/./y?z=/../1".to_owned(),
            bed.url("/app/ok/y?z=/../1"),
        ),
        ("/app/%2e%2e/app/ok".to_owned(), bed.url("/app/ok")),
        (bed.url("/app/a/../abs"), bed.url("/app/abs")),
        // The public URL's port counts for an entry without a port.
        (
            format!("https://app.example.org:{}/x", port_of(&bed)),
            format!("https://app.example.org:{}/x", port_of(&bed)),
        ),
        (bed.url("/app/abs"), bed.url("/app/abs")),
        (
            "https://app.example.org/x".to_owned(),
            "https://app.example.org/x".to_owned(),
        ),
    ] {
        let chain = Browser::new()
            .follow(&bed.url(&format!("/oauth2/start?rd={}", enc(&rd))))
            .await;
        assert_eq!(
            chain.final_url(),
            expected,
            "rd {rd}:\n{}",
            chain.describe()
        );
    }
}

fn port_of(bed: &Bed) -> &str {
    bed.public.rsplit(':').next().unwrap_or_default()
}

#[tokio::test]
async fn the_gateway_redirects_to_the_resolved_form() {
    let bed = Bed::standard().await;
    let hop = bed
        .browser
        .get(&bed.url("/oauth2/sign_out?rd=%2Fapp%2Fx%2F..%2F%2E%2Fy"))
        .await;
    assert_eq!(
        hop.location(),
        Some(bed.url("/app/y").as_str()),
        "{}",
        hop.describe()
    );
    let chain = Browser::new()
        .follow(&bed.url("/oauth2/start?rd=%2Fapp%2Fa%2F%2e%2e%2Fb"))
        .await;
    let back = chain
        .hops
        .iter()
        .find(|h| h.url.starts_with(&bed.url("/oauth2/callback")))
        .unwrap_or_else(|| panic!("no callback:\n{}", chain.describe()));
    assert_eq!(back.location(), Some("/app/b"), "{}", chain.describe());
}

#[tokio::test]
async fn allowed_domains_with_ports() {
    let bed = Bed::start(
        Setup::default()
            .session("allowed_redirect_domains: [\".example.org:8443\", \"any.example.net:*\"]"),
    )
    .await;
    for (rd, lands) in [
        (
            "https://app.example.org:8443/x",
            Some("https://app.example.org:8443/x"),
        ),
        ("https://app.example.org/x", None),
        ("https://app.example.org:9443/x", None),
        (
            "https://any.example.net:1234/x",
            Some("https://any.example.net:1234/x"),
        ),
        ("http://any.example.net/x", Some("http://any.example.net/x")),
    ] {
        let chain = Browser::new()
            .follow(&bed.url(&format!("/oauth2/start?rd={}", enc(rd))))
            .await;
        match lands {
            Some(target) => assert_eq!(chain.final_url(), target, "{}", chain.describe()),
            None => assert_lands_home(&bed, &chain, rd),
        }
    }
}

#[tokio::test]
async fn logout_rd_payloads_fall_back_to_root() {
    let bed =
        Bed::start(Setup::default().session("allowed_redirect_domains: [\".example.org\"]")).await;
    // `state` too: the provider's end_session returns to sign_out with `rd` in `state`.
    for param in ["rd", "state"] {
        for (what, rd) in payloads(&bed) {
            let chain = Browser::new()
                .follow(&bed.url(&format!("/oauth2/sign_out?{param}={rd}")))
                .await;
            assert_lands_home(&bed, &chain, &format!("logout {param} {what}"));
        }
    }
    // Also with a session (the provider's end_session round trip).
    let (what, rd) = &payloads(&bed)[0];
    bed.login("/app/x").await;
    let chain = bed
        .browser
        .follow(&bed.url(&format!("/oauth2/sign_out?rd={rd}")))
        .await;
    assert_lands_home(&bed, &chain, &format!("logout with session, rd {what}"));
}
