//! A real nginx (Debian package) in front of the echo app with portcullis as its
//! `auth_request` service, configured by deploy/nginx/portcullis-auth.conf itself (only
//! the addresses and the listen port substituted): allowed user passes with identity
//! headers, policy denial is 403, a browser without session is redirected to the login.

use super::{echoed_identity, login_rd, Bed};
use crate::support::client::{get, Resp};
use crate::support::nginx::Nginx;

const EXAMPLE: &str = include_str!("../../../deploy/nginx/portcullis-auth.conf");

/// `old` must occur exactly once (the example keeps the spelling the test relies on).
fn replace_once(text: &str, old: &str, new: &str) -> String {
    assert_eq!(
        text.matches(old).count(),
        1,
        "deploy/nginx/portcullis-auth.conf must contain `{old}` exactly once"
    );
    text.replacen(old, new, 1)
}

async fn nginx_in_front(bed: &Bed) -> Nginx {
    let conf = replace_once(
        EXAMPLE,
        "server 127.0.0.1:8080;",
        &format!("server {};", bed.gw.running.addr),
    );
    let conf = replace_once(
        &conf,
        "server 127.0.0.1:3000;",
        &format!("server {};", bed.up),
    );
    let conf = replace_once(&conf, "listen 80;", "listen 127.0.0.1:{{PORT}};");
    Nginx::start(&conf).await
}

async fn via(nginx: &Nginx, path: &str, headers: &[(&str, &str)]) -> Resp {
    get(&format!("{}{path}", nginx.url), headers).await
}

#[tokio::test]
async fn nginx_auth_request_allows_denies_and_redirects_to_login() {
    let bed = Bed::start("[\"127.0.0.1\"]").await;
    let nginx = nginx_in_front(&bed).await;
    let log = || nginx.error_log();

    // Allowed: the app sees portcullis' identity headers, not the client's forged ones.
    let alice = format!("Bearer {}", bed.token("alice", &["staff", "ops"]));
    let r = via(
        &nginx,
        "/app/x?y=1",
        &[
            ("authorization", &alice),
            ("x-auth-user", "mallory"),
            ("x-auth-groups", "admins"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), log());
    assert_eq!(r.echoed_path(), "/app/x");
    let seen = echoed_identity(&r.json());
    let want = [
        ("x-auth-user", "alice"),
        ("x-auth-email", "alice@example.com"),
        ("x-auth-groups", "staff,ops"),
        ("x-auth-subject", "sub-alice"),
    ];
    for (name, value) in want {
        let got = seen.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(got, Some(vec![value.to_owned()]), "{name} at the app");
    }

    // Policy denial: 403 from nginx, the app never sees the request.
    let r = via(&nginx, "/admin/x", &[("authorization", &alice)]).await;
    assert_eq!(r.status, 403, "{}\n{}", r.text(), log());
    let admin = format!("Bearer {}", bed.token("carol", &["admins"]));
    let r = via(&nginx, "/admin/x", &[("authorization", &admin)]).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), log());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("carol"));

    // A browser without session: nginx's error_page 401 turns portcullis' hint into a 302
    // to the login start on nginx's own origin, carrying the original URL.
    let r = via(
        &nginx,
        "/app/page?q=1",
        &[("accept", "text/html"), ("sec-fetch-mode", "navigate")],
    )
    .await;
    assert_eq!(r.status, 302, "{}\n{}", r.text(), log());
    let location = r.header("location").expect("Location").to_owned();
    let rd = login_rd(&location, &format!("{}/oauth2/start", nginx.url));
    assert_eq!(rd, format!("{}/app/page?q=1", nginx.url));
    // …and that URL, through nginx's /oauth2/ location, starts the login at the provider.
    let r = get(&location, &[("accept", "text/html")]).await;
    assert_eq!(r.status, 302, "{}\n{}", r.text(), log());
    let to_idp = r.header("location").unwrap_or_default();
    assert!(
        to_idp.starts_with(&bed.idp.issuer()),
        "login goes to the provider: {to_idp}"
    );

    // An API client without credentials keeps its 401; a public route needs nothing.
    let r = via(&nginx, "/app/page", &[("accept", "application/json")]).await;
    assert_eq!(r.status, 401, "{}\n{}", r.text(), log());
    let r = via(&nginx, "/public/x", &[("x-auth-user", "mallory")]).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), log());
    assert!(
        echoed_identity(&r.json()).is_empty(),
        "no identity on auth none"
    );

    // The sub-request location is internal: clients cannot call it through nginx.
    let r = via(&nginx, "/oauth2/auth", &[("x-original-uri", "/public/x")]).await;
    assert_eq!(r.status, 404, "{}", r.text());
}
