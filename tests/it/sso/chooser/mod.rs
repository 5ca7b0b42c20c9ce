//! Several identity providers on one browser route (issue 18 part 4), between two
//! FakeIdps: the chooser page (both names, escaped, CSP, no script), a login through
//! each, a `login_hint` domain that skips the chooser, `?provider=` limited to the
//! route's providers, the session's own provider for refresh, sign-out and back-channel
//! logout, and a session from another provider not counting on a route that does not
//! list it.
//!
//! Here the fixture and the login; `sessions.rs`: what a session of one provider counts
//! for afterwards.

mod sessions;

use super::{new_secret, start_gateway, user_claims, CLIENT_ID, CLIENT_SECRET};
use crate::support::browser::{enc, Browser, Hop};
use crate::support::echo_upstream;
use serde_json::json;

use crate::scale::post_logout;
use crate::support::fake_idp::{now, random_hex, ClientAuthMethod, Endpoint, FakeIdp, Grant};
use crate::support::redis::RedisServer;
use crate::support::TestGateway;

/// Two providers (corp signs in alice, partner bob) and the routes
/// `/app/` (providers [corp, partner]), `/corp/` (corp) and `/partner/` (partner).
struct Two {
    corp: FakeIdp,
    partner: FakeIdp,
    gw: TestGateway,
    public: String,
}

impl Two {
    async fn start() -> Two {
        Two::start_with("").await
    }

    /// With more `session:` keys (indented lines).
    async fn start_with(session: &str) -> Two {
        let (corp, partner) = (FakeIdp::start().await, FakeIdp::start().await);
        let up = echo_upstream().await;
        let secret = new_secret();
        let provider = |name: &str, idp: &FakeIdp, extra: &str| {
            format!(
                "  - name: {name}\n    issuer: \"{}\"\n    client_id: {CLIENT_ID}\n    \
                 client_secret: {CLIENT_SECRET}\n{extra}",
                idp.issuer()
            )
        };
        let route = |name: &str, providers: &str| {
            format!(
                "  - name: {name}\n    match: {{ path_prefix: \"/{name}/\" }}\n    upstream: \
                 \"http://{up}\"\n    auth: session\n    {providers}\n"
            )
        };
        let (gw, public) = start_gateway("http", |port, public| {
            format!(
                "server:\n  listen: \"127.0.0.1:{port}\"\n  public_url: \"{public}\"\n\
                 admin:\n  listen: \"127.0.0.1:0\"\nproviders:\n{}{}session:\n  secrets: \
                 [\"{secret}\"]\n{session}routes:\n{}{}{}",
                provider(
                    "corp",
                    &corp,
                    "    display_name: \"Corp <SSO> & Co\"\n    domains: [corp.example]\n"
                ),
                provider(
                    "partner",
                    &partner,
                    "    display_name: Partner\n    domains: [partner.example, .partner.example]\n"
                ),
                route("app", "providers: [corp, partner]"),
                route("corp", "provider: corp"),
                route("partner", "provider: partner"),
            )
        })
        .await;
        for (idp, user) in [(&corp, "alice"), (&partner, "bob")] {
            let method = ClientAuthMethod::SecretBasic(CLIENT_SECRET.into());
            idp.register_client(CLIENT_ID, method, &format!("{public}/oauth2/callback"));
            idp.set_login_user(&format!("sub-{user}"), user_claims(user));
        }
        Two {
            corp,
            partner,
            gw,
            public,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public)
    }

    /// The chooser `browser` gets for a navigation to `path` (through `/oauth2/start`).
    async fn chooser(&self, browser: &Browser, path: &str) -> Hop {
        let first = browser.get(&self.url(path)).await;
        assert_eq!(first.status, 302, "{}", first.describe());
        let start = first.next_url().expect("Location");
        assert!(
            start.starts_with(&self.url("/oauth2/start?")),
            "login goes through start: {start}"
        );
        let page = browser.get(&start).await;
        assert_eq!(page.status, 200, "{}\n{}", page.describe(), page.text());
        page
    }

    /// Signs in at `provider` from the chooser for `path`; asserts it lands on `path`.
    async fn login_via(&self, browser: &Browser, path: &str, provider: &str) -> Hop {
        let page = self.chooser(browser, path).await;
        let href = link_for(&page.text(), provider);
        let chain = browser.follow(&self.url(&href)).await;
        let last = chain.last().clone();
        assert_eq!(
            (last.status, last.url.as_str()),
            (200, self.url(path).as_str()),
            "{}",
            chain.describe()
        );
        last
    }
}

/// The `href` of the chooser link for `provider`, unescaped.
fn link_for(html: &str, provider: &str) -> String {
    let marker = format!("\" data-provider=\"{provider}\"");
    let end = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no link for {provider} in:\n{html}"));
    let start = html[..end].rfind("href=\"").expect("href") + "href=\"".len();
    html[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn the_chooser_names_both_providers_and_signs_in_at_the_one_picked() {
    let two = Two::start().await;
    let browser = Browser::new();
    let page = two.chooser(&browser, "/app/x?y=1").await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("style-src 'sha256-"),
        "{csp}"
    );
    let html = page.text();
    assert!(html.contains(">Corp &lt;SSO&gt; &amp; Co</a>"), "{html}");
    assert!(html.contains(">Partner</a>"), "{html}");
    assert!(!html.contains("<SSO>") && !html.to_ascii_lowercase().contains("<script"));
    assert!(html.contains("<html lang=\"en\">") && html.contains("<title>Sign in</title>"));
    // Providers have domains: the e-mail form is offered, with its label.
    assert!(html.contains("<label for=\"login_hint\">"), "{html}");
    assert!(
        link_for(&html, "partner").contains(&format!("rd={}", enc("/app/x?y=1"))),
        "{html}"
    );
    // Nothing was asked of either provider yet.
    assert_eq!(two.corp.hits(Endpoint::Authorize), 0);
    assert_eq!(two.partner.hits(Endpoint::Authorize), 0);

    // Bob picks the partner and lands where he was going.
    let last = two.login_via(&browser, "/app/x?y=1", "partner").await;
    assert_eq!(last.echoed("x-auth-user").as_deref(), Some("bob"));
    assert_eq!(two.partner.token_count(Grant::AuthorizationCode), 1);
    assert_eq!(two.corp.hits(Endpoint::Authorize), 0);
    let me = browser.api_get(&two.url("/oauth2/userinfo")).await;
    assert_eq!(me.json()["provider"], "partner", "{}", me.text());
    assert_eq!(browser.api_get(&two.url("/app/z")).await.status, 200);

    // Alice, in another browser, picks corp.
    let alice = Browser::new();
    let last = two.login_via(&alice, "/app/a", "corp").await;
    assert_eq!(last.echoed("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(two.corp.token_count(Grant::AuthorizationCode), 1);
    let text = two.gw.metrics().await;
    for (series, want) in [
        ("portcullis_login_chooser_shown_total{route=\"app\"}", 3.0),
        (
            "portcullis_login_starts_total{picked_by=\"parameter\",provider=\"partner\"}",
            1.0,
        ),
        (
            "portcullis_login_starts_total{picked_by=\"parameter\",provider=\"corp\"}",
            1.0,
        ),
    ] {
        assert_eq!(
            crate::support::metric_value(&text, series),
            want,
            "{series}"
        );
    }
}

#[tokio::test]
async fn api_requests_get_401_json_not_the_chooser() {
    let two = Two::start().await;
    let hop = Browser::new().api_get(&two.url("/app/data")).await;
    assert_eq!(hop.status, 401, "{}", hop.describe());
    assert!(hop.location().is_none());
    assert_eq!(hop.json()["error"], "unauthorized");
}

#[tokio::test]
async fn a_login_hint_domain_picks_the_provider_without_the_chooser() {
    let two = Two::start().await;
    // On the navigation itself: passed on to /oauth2/start, and to the provider.
    let browser = Browser::new();
    let path = format!("/app/h?login_hint={}", enc("bob@Partner.example"));
    let chain = browser.follow(&two.url(&path)).await;
    let last = chain.last();
    assert_eq!(
        (last.status, last.url.clone()),
        (200, two.url(&path)),
        "{}",
        chain.describe()
    );
    assert_eq!(last.echoed("x-auth-user").as_deref(), Some("bob"));
    assert!(
        chain
            .hops
            .iter()
            .all(|h| h.status != 200 || h.url == two.url(&path)),
        "no chooser page on the way:\n{}",
        chain.describe()
    );
    let asked = two
        .partner
        .last_authorization()
        .expect("authorize at partner");
    assert_eq!(asked.get("login_hint"), Some("bob@Partner.example"));
    assert_eq!(two.corp.hits(Endpoint::Authorize), 0);

    // On /oauth2/start: an address, a subdomain (`.partner.example`), a bare domain.
    let partner = two.partner.url(Endpoint::Authorize);
    let corp = two.corp.url(Endpoint::Authorize);
    for (hint, to) in [
        ("carol@eu.partner.example", &partner),
        ("corp.example", &corp),
        ("dave@CORP.example", &corp),
    ] {
        let url = two.url(&format!(
            "/oauth2/start?rd=%2Fapp%2F&login_hint={}",
            enc(hint)
        ));
        let hop = Browser::new().get(&url).await;
        assert_eq!(hop.status, 302, "{hint}: {}", hop.describe());
        let location = hop.location().unwrap_or_default();
        assert!(location.starts_with(to.as_str()), "{hint}: {location}");
    }
    // A hint no provider lists, or one that is no address: the chooser, hint kept.
    for hint in [
        "eve@elsewhere.example",
        "a@b@partner.example",
        "partner.example.evil",
        "@partner.example",
        "bob",
    ] {
        let url = two.url(&format!(
            "/oauth2/start?rd=%2Fapp%2F&login_hint={}",
            enc(hint)
        ));
        let hop = Browser::new().get(&url).await;
        assert_eq!(hop.status, 200, "{hint}: {}", hop.describe());
        let html = hop.text();
        assert!(html.contains("id=\"hint-note\""), "{hint}: {html}");
        assert!(
            link_for(&html, "partner")
                .contains(&format!("login_hint={}", enc(hint).replace("%20", "+"))),
            "{hint}: {html}"
        );
    }
    // Control characters make a hint unusable: ignored, never passed on.
    let hop = Browser::new()
        .get(&two.url("/oauth2/start?rd=%2Fapp%2F&login_hint=bob%0d%0a%40partner.example"))
        .await;
    assert_eq!(hop.status, 200, "{}", hop.describe());
    assert!(!hop.text().contains("login_hint="), "{}", hop.text());
    let hinted = two
        .gw
        .metric("portcullis_login_starts_total{picked_by=\"hint\",provider=\"partner\"}")
        .await;
    assert_eq!(hinted, 2.0);
}

#[tokio::test]
async fn the_provider_parameter_must_be_one_the_route_lists() {
    let two = Two::start().await;
    let start = |q: &str| two.url(&format!("/oauth2/start?{q}"));
    let partner = two.partner.url(Endpoint::Authorize);
    let corp = two.corp.url(Endpoint::Authorize);
    let absolute_corp = enc(&two.url("/corp/x"));
    for (query, status) in [
        // The corp route lists only corp: a link cannot sign in through partner.
        ("provider=partner&rd=%2Fcorp%2Fx".to_owned(), 400),
        (format!("provider=partner&rd={absolute_corp}"), 400),
        (
            "provider=partner&rd=%2Fcorp%2F..%2Fcorp%2Fx".to_owned(),
            400,
        ),
        ("provider=nobody&rd=%2Fapp%2F".to_owned(), 400),
        ("provider=partner&rd=%2Fapp%2F".to_owned(), 302),
        ("provider=corp&rd=%2Fcorp%2Fx".to_owned(), 302),
    ] {
        let hop = Browser::new().get(&start(&query)).await;
        assert_eq!(hop.status, status, "{query}: {}", hop.describe());
    }
    assert_eq!(two.partner.hits(Endpoint::Authorize), 0);
    // One provider on the route: no chooser, straight there.
    for (rd, to) in [("%2Fpartner%2Fx", &partner), ("%2Fcorp%2Fx", &corp)] {
        let hop = Browser::new().get(&start(&format!("rd={rd}"))).await;
        assert_eq!(hop.status, 302, "{rd}: {}", hop.describe());
        assert!(hop.location().unwrap_or_default().starts_with(to.as_str()));
    }
    // No route behind rd: the first provider, as before routes could list several.
    let hop = Browser::new().get(&start("rd=%2Fnowhere")).await;
    assert!(hop
        .location()
        .unwrap_or_default()
        .starts_with(corp.as_str()));
}
