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
