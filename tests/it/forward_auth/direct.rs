//! `/oauth2/auth` called directly, the way a front proxy calls it: original method/URI/
//! host in headers (nginx and Traefik spellings) or in the path (Envoy), answers 200 with
//! identity headers on the RESPONSE, 401 (+ login hint for browsers), 403; untrusted
//! callers refused whatever they claim; forged identity headers never echoed back.

use super::{login_rd, Bed, IDENTITY};
use crate::support::client::{get, Resp};

const AUTH: &str = "/oauth2/auth";

async fn ask(bed: &Bed, headers: &[(&str, &str)]) -> Resp {
    get(&format!("{}{AUTH}", bed.gw.url), headers).await
}

#[track_caller]
fn assert_no_identity(r: &Resp, what: &str) {
    for name in IDENTITY {
        assert!(
            r.header(name).is_none(),
            "{what}: {name} echoed: {:?}",
            r.header(name)
        );
    }
}

#[tokio::test]
async fn allowed_user_gets_200_with_identity_headers_on_the_response() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let token = format!("Bearer {}", bed.token("alice", &["staff", "ops"]));
    // nginx spelling.
    let r = ask(
        &bed,
        &[
            ("x-original-method", "GET"),
            ("x-original-uri", "/app/x?y=1"),
            ("authorization", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "forward-auth 200 has no body");
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    assert_eq!(r.header("x-auth-email"), Some("alice@example.com"));
    assert_eq!(r.header("x-auth-groups"), Some("staff,ops"));
    assert_eq!(r.header("x-auth-subject"), Some("sub-alice"));
    // Traefik spelling.
    let r = ask(
        &bed,
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/app/x"),
            ("x-forwarded-host", "app.test"),
            ("x-forwarded-proto", "https"),
            ("authorization", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    // Envoy ext_authz `path_prefix`: the original path follows /oauth2/auth.
    let r = get(
        &format!("{}{AUTH}/app/x?y=1", bed.gw.url),
        &[("authorization", &token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-auth-subject"), Some("sub-alice"));
}

#[tokio::test]
async fn policy_denial_is_403_and_runs_on_the_normalised_original_path() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let staff = format!("Bearer {}", bed.token("bob", &["staff"]));
    let admin = format!("Bearer {}", bed.token("carol", &["admins"]));
    for uri in [
        "/admin/x",
        "/admin/../admin/x",
        "/public/../admin/x",
        "//admin/x",
    ] {
        let r = ask(&bed, &[("x-original-uri", uri), ("authorization", &staff)]).await;
        assert_eq!(r.status, 403, "{uri}: {}", r.text());
        assert_no_identity(&r, uri);
        let r = ask(&bed, &[("x-original-uri", uri), ("authorization", &admin)]).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert_eq!(r.header("x-auth-user"), Some("carol"), "{uri}");
        // No credentials: the `public` route must not be reached through `..`.
        let r = ask(
            &bed,
            &[("x-original-uri", uri), ("accept", "application/json")],
        )
        .await;
        assert_eq!(r.status, 401, "{uri}: {}", r.text());
    }
    let r = get(
        &format!("{}{AUTH}/admin/x", bed.gw.url),
        &[("authorization", &staff)],
    )
    .await;
    assert_eq!(r.status, 403, "envoy style: {}", r.text());
}

#[tokio::test]
async fn missing_credentials_give_401_and_browsers_a_login_hint_never_a_redirect() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let host = bed.gw.running.addr.to_string();
    // A browser navigation (Traefik style, original host and scheme forwarded).
    let r = ask(
        &bed,
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/app/page?q=a%20b&x=1"),
            ("x-forwarded-host", "app.test:8443"),
            ("x-forwarded-proto", "https"),
            ("accept", "text/html,application/xhtml+xml"),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let location = r.header("location").expect("Location hint").to_owned();
    assert_eq!(r.header("x-auth-request-redirect"), Some(location.as_str()));
    let rd = login_rd(&location, &format!("https://{host}/oauth2/start"));
    assert_eq!(rd, "https://app.test:8443/app/page?q=a%20b&x=1");
    // The same request from a script: 401 with a Bearer challenge, no hint.
    for accept in ["application/json", "*/*"] {
        let r = ask(&bed, &[("x-original-uri", "/app/page"), ("accept", accept)]).await;
        assert_eq!(r.status, 401, "{accept}: {}", r.text());
        assert!(r.header("location").is_none(), "{accept}");
        assert!(r.header("x-auth-request-redirect").is_none(), "{accept}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"app\""));
    }
    // A non-GET original request is no navigation, even with Accept: text/html.
    let r = ask(
        &bed,
        &[
            ("x-original-method", "POST"),
            ("x-original-uri", "/app/form"),
            ("accept", "text/html"),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("location").is_none());
    // A bearer-only route never sends browsers to the login.
    let r = ask(
        &bed,
        &[("x-original-uri", "/api/x"), ("accept", "text/html")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("location").is_none());
    // A bad token is 401 invalid_token, not a login hint.
    let r = ask(
        &bed,
        &[
            ("x-original-uri", "/app/x"),
            ("accept", "text/html"),
            ("authorization", "Bearer not.a.jwt"),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("location").is_none());
}

#[tokio::test]
async fn public_paths_and_auth_none_answer_200_without_identity() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let token = format!("Bearer {}", bed.token("alice", &["staff"]));
    for uri in ["/public/x", "/app/health", "/app/health/deep?x=1"] {
        let r = ask(&bed, &[("x-original-uri", uri)]).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert_no_identity(&r, uri);
        // Even with a token: auth none / public paths never authenticate.
        let r = ask(&bed, &[("x-original-uri", uri), ("authorization", &token)]).await;
        assert_eq!(r.status, 200, "{uri}");
        assert_no_identity(&r, uri);
    }
}

#[tokio::test]
async fn forged_identity_headers_on_the_sub_request_are_never_echoed() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let forged = [
        ("x-auth-user", "mallory"),
        ("X-Auth-Email", "mallory@example.com"),
        ("x-auth-groups", "admins"),
        ("x-auth-subject", "sub-mallory"),
    ];
    let mut h: Vec<(&str, &str)> = forged.to_vec();
    h.push(("x-original-uri", "/public/x"));
    let r = ask(&bed, &h).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_no_identity(&r, "auth none");
    // Forged admin group does not open /admin/ and is not echoed on the 401.
    let mut h: Vec<(&str, &str)> = forged.to_vec();
    h.push(("x-original-uri", "/admin/x"));
    let r = ask(&bed, &h).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_no_identity(&r, "401");
    // With a real token, the principal's values replace the forged ones (one value each).
    let token = format!("Bearer {}", bed.token("alice", &["staff"]));
    let mut h: Vec<(&str, &str)> = forged.to_vec();
    h.push(("x-original-uri", "/app/x"));
    h.push(("authorization", &token));
    let r = ask(&bed, &h).await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, want) in [
        ("x-auth-user", "alice"),
        ("x-auth-email", "alice@example.com"),
        ("x-auth-groups", "staff"),
        ("x-auth-subject", "sub-alice"),
    ] {
        let got: Vec<_> = r.headers.get_all(name).iter().collect();
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert_eq!(got[0], want, "{name}");
    }
}

#[tokio::test]
async fn ambiguous_or_missing_originals_are_400() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let token = format!("Bearer {}", bed.token("alice", &["staff"]));
    let cases: [&[(&str, &str)]; 6] = [
        // Nothing says which request is asked about.
        &[("authorization", &token)],
        // nginx's header and a client-smuggled Traefik header disagree.
        &[
            ("x-original-uri", "/admin/x"),
            ("x-forwarded-uri", "/public/x"),
        ],
        &[
            ("x-original-method", "GET"),
            ("x-forwarded-method", "POST"),
            ("x-original-uri", "/public/x"),
        ],
        // Not origin-form.
        &[("x-original-uri", "http://evil.test/public/x")],
        &[
            ("x-original-uri", "/public/x"),
            ("x-original-uri", "/admin/x"),
        ],
        // Path parameters that would change the route (a Servlet app reads /public/y).
        &[("x-original-uri", "/public;x/y")],
    ];
    for (i, h) in cases.iter().enumerate() {
        let r = ask(&bed, h).await;
        assert_eq!(r.status, 400, "case {i}: {}", r.text());
        assert_no_identity(&r, "400");
    }
    // Agreeing spellings are fine (the nginx example sends both).
    let r = ask(
        &bed,
        &[
            ("x-original-uri", "/public/x"),
            ("x-forwarded-uri", "/public/x"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn untrusted_callers_are_refused_whatever_they_claim() {
    // 127.0.0.1 is NOT a trusted proxy here.
    let bed = Bed::start("[\"10.9.9.9\"]").await;
    let token = format!("Bearer {}", bed.token("alice", &["admins"]));
    let cases: [&[(&str, &str)]; 4] = [
        // A public original URI would answer 200 if the header were believed.
        &[
            ("x-forwarded-uri", "/public/x"),
            ("x-forwarded-method", "GET"),
        ],
        &[("x-original-uri", "/public/x")],
        // Even a valid token gets no identity headers out of an untrusted caller.
        &[("x-original-uri", "/app/x"), ("authorization", &token)],
        &[("authorization", &token)],
    ];
    for (i, h) in cases.iter().enumerate() {
        let r = ask(&bed, h).await;
        assert_eq!(r.status, 403, "case {i}: {}", r.text());
        assert_no_identity(&r, "untrusted");
    }
    let r = get(
        &format!("{}{AUTH}/public/x", bed.gw.url),
        &[("authorization", &token)],
    )
    .await;
    assert_eq!(r.status, 403, "envoy style: {}", r.text());
}
