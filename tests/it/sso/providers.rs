//! Several providers: each route logs in at its own provider, and with logins to both in
//! flight in one browser, each callback is finished at the provider its attempt names.

use super::login::until_redirect_to;
use super::{new_secret, start_gateway, user_claims, CLIENT_ID, CLIENT_SECRET};
use crate::support::browser::Browser;
use crate::support::echo_upstream;
use crate::support::fake_idp::{ClientAuthMethod, Endpoint, FakeIdp, Grant};

#[tokio::test]
async fn each_route_logs_in_at_its_own_provider() {
    let (one, two) = (FakeIdp::start().await, FakeIdp::start().await);
    let up = echo_upstream().await;
    let secret = new_secret();
    let provider = |name: &str, idp: &FakeIdp| {
        format!(
            "  - name: {name}\n    issuer: \"{}\"\n    client_id: {CLIENT_ID}\n    \
             client_secret: {CLIENT_SECRET}\n",
            idp.issuer()
        )
    };
    let route = |name: &str, provider: &str| {
        format!(
            "  - name: {name}\n    match: {{ path_prefix: \"/{name}/\" }}\n    upstream: \
             \"http://{up}\"\n    auth: session\n    provider: {provider}\n"
        )
    };
    let (_gw, public) = start_gateway("http", |port, public| {
        format!(
            "server:\n  listen: \"127.0.0.1:{port}\"\n  public_url: \"{public}\"\n\
             admin:\n  listen: \"127.0.0.1:0\"\nproviders:\n{}{}session:\n  secrets: \
             [\"{secret}\"]\nroutes:\n{}{}",
            provider("one", &one),
            provider("two", &two),
            route("app", "one"),
            route("other", "two"),
        )
    })
    .await;
    for (idp, user) in [(&one, "alice"), (&two, "bob")] {
        let method = ClientAuthMethod::SecretBasic(CLIENT_SECRET.into());
        idp.register_client(CLIENT_ID, method, &format!("{public}/oauth2/callback"));
        idp.set_login_user(&format!("sub-{user}"), user_claims(user));
    }
    let browser = Browser::new();
    let to_one = until_redirect_to(
        &browser,
        &format!("{public}/app/t1"),
        &one.url(Endpoint::Authorize),
    )
    .await;
    let to_two = until_redirect_to(
        &browser,
        &format!("{public}/other/t2"),
        &two.url(Endpoint::Authorize),
    )
    .await;
    // Finish the second login first: its callback must go to provider two.
    for (authorize, path, user, idp) in [
        (to_two, "/other/t2", "bob", &two),
        (to_one, "/app/t1", "alice", &one),
    ] {
        let chain = browser.follow(&authorize).await;
        let last = chain.last();
        assert_eq!(
            (last.status, last.url.clone()),
            (200, format!("{public}{path}")),
            "{}",
            chain.describe()
        );
        assert_eq!(last.echoed("x-auth-user").as_deref(), Some(user));
        assert_eq!(
            idp.token_count(Grant::AuthorizationCode),
            1,
            "{user}'s provider"
        );
    }
    // The session now comes from provider one; it does not count on provider two's route.
    let hop = browser.get(&format!("{public}/other/z")).await;
    assert_eq!(hop.status, 302, "{}", hop.describe());
    let hop = browser.get(&format!("{public}/app/z")).await;
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("alice"));
}
