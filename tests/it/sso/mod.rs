//! Browser SSO (issue 5), proven through a running gateway between a cookie-jar browser
//! ([`Browser`]), the in-process FakeIdp (authorize auto-approves a chosen user) and the
//! echo upstream: the login chain, client authentication, callback attacks, session
//! cookies, lifetimes and refresh, browser-vs-API answers, redirect safety and logout.
//!
//! The gateway listens on a port picked beforehand (bind :0, drop, reuse; retried on a
//! lost race) so that `server.public_url` is exact: redirect_uri =
//! `http://127.0.0.1:<port>/oauth2/callback`, registered at the FakeIdp.

mod access;
mod callback;
mod chooser;
mod client_auth;
mod cookies;
mod lifetime;
mod login;
mod logout;
mod providers;
mod redirects;
mod seal;
mod start;

use start::gateway;
pub use start::start_gateway;

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::browser::{Browser, Chain, Cookie, Hop};
use crate::support::echo_upstream;
use crate::support::fake_idp::{random_hex, ClientAuthMethod, ClientKey, FakeIdp};
use crate::support::TestGateway;

/// The gateway's client id at the FakeIdp.
pub const CLIENT_ID: &str = "portcullis";
/// Its secret (basic/post).
pub const CLIENT_SECRET: &str = "client-secret";
/// The session cookie name over plain http (`session.cookie_name` default).
pub const SESSION: &str = "portcullis";

/// How the gateway authenticates at the token endpoint.
pub enum Auth {
    /// client_secret_basic.
    Basic,
    /// client_secret_post.
    Post,
    /// private_key_jwt with this key (written to a temp PEM file).
    Jwt(ClientKey),
    /// none (public client).
    Public,
}

/// What differs between test gateways; [`Setup::default`] is the standard one.
pub struct Setup {
    /// Client authentication.
    pub auth: Auth,
    /// Extra `providers[0]` keys, one per line, unindented.
    pub provider: Vec<String>,
    /// Extra `session:` keys.
    pub session: Vec<String>,
    /// Extra `server:` keys.
    pub server: Vec<String>,
    /// Extra keys of the `app` route.
    pub app: Vec<String>,
    /// `session.secrets` (base64); default: one fresh secret.
    pub secrets: Vec<String>,
    /// `https` makes `public_url` https (a TLS proxy in front; see `Browser`).
    pub scheme: &'static str,
    /// Applied to the FakeIdp's discovery document before the gateway starts.
    pub discovery_patch: Option<Value>,
    /// More providers, as YAML lines at the level of `- name:` (unindented; `$ISSUER`
    /// stands for the FakeIdp's issuer).
    pub more_providers: Vec<String>,
    /// More top-level YAML (e.g. a `tracing:` section), appended as it is.
    pub top: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            auth: Auth::Basic,
            provider: Vec::new(),
            session: Vec::new(),
            server: Vec::new(),
            app: Vec::new(),
            secrets: vec![new_secret()],
            scheme: "http",
            discovery_patch: None,
            more_providers: Vec::new(),
            top: String::new(),
        }
    }
}

impl Setup {
    /// With this client authentication.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    /// Adds a provider key.
    pub fn provider(mut self, line: &str) -> Self {
        self.provider.push(line.into());
        self
    }
    /// Adds a session key.
    pub fn session(mut self, line: &str) -> Self {
        self.session.push(line.into());
        self
    }
    /// Adds a server key.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.into());
        self
    }
    /// Adds a key to the `app` route.
    pub fn app(mut self, line: &str) -> Self {
        self.app.push(line.into());
        self
    }
}

/// base64 of 32 fresh random bytes.
pub fn new_secret() -> String {
    let hex = random_hex(32);
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).expect("hex"))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Claims of a test user: alice is in `admins`, everyone else in `staff`.
pub fn user_claims(name: &str) -> Value {
    let groups = if name == "alice" {
        json!(["admins", "staff"])
    } else {
        json!(["staff"])
    };
    json!({"preferred_username": name, "email": format!("{name}@example.com"),
           "email_verified": true, "groups": groups, "name": format!("User {name}")})
}

/// A FakeIdp, the echo upstream, a ready gateway and a browser.
pub struct Bed {
    /// The provider.
    pub idp: FakeIdp,
    /// The echo upstream.
    pub up: SocketAddr,
    /// The gateway (kept alive; tests talk to it through `public`).
    #[allow(dead_code)]
    pub gw: TestGateway,
    /// `public_url` (also the gateway's origin).
    pub public: String,
    /// A browser with an empty jar.
    pub browser: Browser,
    /// Holds key files.
    pub dir: tempfile::TempDir,
}

impl Bed {
    /// Starts everything; the FakeIdp signs in `alice`.
    pub async fn start(setup: Setup) -> Bed {
        let idp = FakeIdp::start().await;
        if let Some(patch) = &setup.discovery_patch {
            idp.set_discovery_patch(patch.clone());
        }
        let up = echo_upstream().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let (gw, public) = gateway(&idp, up, &setup, dir.path()).await;
        let method = match &setup.auth {
            Auth::Basic => ClientAuthMethod::SecretBasic(CLIENT_SECRET.into()),
            Auth::Post => ClientAuthMethod::SecretPost(CLIENT_SECRET.into()),
            Auth::Jwt(key) => ClientAuthMethod::PrivateKeyJwt(key.public_key()),
            Auth::Public => ClientAuthMethod::None,
        };
        idp.register_client(CLIENT_ID, method, &format!("{public}/oauth2/callback"));
        idp.set_login_user("sub-alice", user_claims("alice"));
        let browser = if setup.scheme == "https" {
            Browser::behind_tls_proxy()
        } else {
            Browser::new()
        };
        Bed {
            idp,
            up,
            gw,
            public,
            browser,
            dir,
        }
    }

    /// The standard bed.
    pub async fn standard() -> Bed {
        Bed::start(Setup::default()).await
    }

    /// `public_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public)
    }

    /// Signs in `name` for the next logins.
    pub fn as_user(&self, name: &str) {
        self.idp
            .set_login_user(&format!("sub-{name}"), user_claims(name));
    }

    /// Navigates to `path` with `browser` and follows the whole chain; asserts it ends
    /// 200 back on `path`.
    pub async fn login_with(&self, browser: &Browser, path: &str) -> Chain {
        let chain = browser.follow(&self.url(path)).await;
        let last = chain.last();
        assert_eq!(
            (last.status, last.url.as_str()),
            (200, self.url(path).as_str()),
            "login chain did not end on {path}:\n{}\nbody: {}\nIdP rejections: {:?}\ntoken calls: {:?}",
            chain.describe(),
            last.text(),
            self.idp.authorize_rejections(),
            self.idp.token_calls().iter().map(|c| (c.status, c.error.clone())).collect::<Vec<_>>()
        );
        chain
    }

    /// [`Bed::login_with`] with the bed's browser.
    pub async fn login(&self, path: &str) -> Chain {
        self.login_with(&self.browser, path).await
    }

    /// The session cookies (whole or chunks) in `browser`'s jar.
    pub fn session_cookies(&self, browser: &Browser) -> Vec<Cookie> {
        session_cookies(browser, SESSION)
    }

    /// Another gateway (own port, same provider and upstream) for multi-gateway tests.
    pub async fn another(&self, setup: &Setup) -> (TestGateway, String) {
        gateway(&self.idp, self.up, setup, self.dir.path()).await
    }
}

/// Cookies named `name` or `name_<digits>` (session and chunks, not login attempts).
pub fn session_cookies(browser: &Browser, name: &str) -> Vec<Cookie> {
    browser
        .cookies()
        .into_iter()
        .filter(|c| is_session_name(&c.name, name))
        .collect()
}

/// Whether `cookie` is the session cookie `name` or one of its chunks.
pub fn is_session_name(cookie: &str, name: &str) -> bool {
    cookie == name
        || cookie
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Login-attempt cookies in the jar.
pub fn attempt_cookies(browser: &Browser) -> Vec<Cookie> {
    browser
        .cookies()
        .into_iter()
        .filter(|c| c.name.contains("_login_"))
        .collect()
}

/// The `Set-Cookie`s of a chain that create a session cookie (or chunk).
pub fn session_sets(chain: &Chain) -> Vec<Cookie> {
    chain
        .hops
        .iter()
        .flat_map(|h| h.set_cookies.iter())
        .filter(|c| is_session_name(c.name.trim_start_matches("__Host-"), SESSION))
        .filter(|c| !c.is_deletion())
        .cloned()
        .collect()
}

/// The hop that went to the provider's authorize endpoint.
#[track_caller]
pub fn authorize_hop<'c>(bed: &Bed, chain: &'c Chain) -> &'c Hop {
    let authorize = bed.idp.url(crate::support::fake_idp::Endpoint::Authorize);
    chain
        .hop_to(&authorize)
        .unwrap_or_else(|| panic!("no authorize request in:\n{}", chain.describe()))
}
