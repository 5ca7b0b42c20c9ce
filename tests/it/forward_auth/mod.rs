//! Forward-auth (`/oauth2/auth`, issue 6): the sub-request of nginx `auth_request`,
//! Traefik `forwardAuth` and Envoy `ext_authz`, answered with the same route match,
//! authentication and policy as proxy mode. `direct` calls the endpoint like a front
//! proxy would; `nginx` puts a real nginx, configured by deploy/nginx/portcullis-auth.conf,
//! in front of an app with portcullis as its auth service; `session` uses a browser
//! session (cookie, refresh) through the endpoint.

mod direct;
mod nginx;
mod session;

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::support::bearer::{route, start_ready, ProviderYaml, AUD};
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

/// A FakeIdp, the echo upstream and a ready gateway with browser sessions and these
/// routes: `public` (/public/, auth none), `admin` (/admin/, any, group admins), `api`
/// (/api/, bearer), `app` (/, any, public path /app/health).
pub struct Bed {
    /// The provider that signs the test tokens.
    pub idp: FakeIdp,
    /// The echo upstream (the protected app).
    pub up: SocketAddr,
    /// The gateway.
    pub gw: TestGateway,
}

impl Bed {
    /// `trusted` is the YAML flow list for `server.trusted_proxies`.
    pub async fn start(trusted: &str) -> Bed {
        let idp = FakeIdp::start().await;
        let up = echo_upstream().await;
        let yaml = format!(
            "server:\n  listen: \"127.0.0.1:0\"\n  trusted_proxies: {trusted}\n\
             admin:\n  listen: \"127.0.0.1:0\"\nproviders:\n{}session:\n  secrets: [\"{}\"]\n\
             routes:\n{}{}{}{}",
            ProviderYaml::default().with("userinfo: never").render(&idp),
            crate::sso::new_secret(),
            route("public", "/public/", up, &["auth: none"]),
            route(
                "admin",
                "/admin/",
                up,
                &["auth: any", "allow: { groups: [admins] }"]
            ),
            route("api", "/api/", up, &["auth: bearer"]),
            route(
                "app",
                "/",
                up,
                &["auth: any", "public_paths: [\"/app/health\"]"]
            ),
        );
        let gw = start_ready(&yaml).await;
        Bed { idp, up, gw }
    }

    /// A valid token of user `name` (`sub-<name>`, `<name>@example.com`) in `groups`.
    pub fn token(&self, name: &str, groups: &[&str]) -> String {
        self.idp.sign(self.idp.claims_for(
            &format!("sub-{name}"),
            AUD,
            json!({
                "preferred_username": name,
                "email": format!("{name}@example.com"),
                "groups": groups,
            }),
        ))
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` and `%XX`).
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// The `rd` parameter of a login URL, decoded; panics when the URL is not
/// `<expected_start>?rd=…`.
#[track_caller]
pub fn login_rd(location: &str, expected_start: &str) -> String {
    let query = location
        .strip_prefix(expected_start)
        .and_then(|rest| rest.strip_prefix('?'))
        .unwrap_or_else(|| panic!("{location} does not start with {expected_start}?"));
    let rd = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("rd="))
        .unwrap_or_else(|| panic!("no rd in {location}"));
    form_decode(rd)
}

/// Identity header names the gateway sets (lower case).
pub const IDENTITY: [&str; 4] = [
    "x-auth-user",
    "x-auth-email",
    "x-auth-groups",
    "x-auth-subject",
];

/// The echo upstream's view of the identity headers: name → every value received.
pub fn echoed_identity(echo: &Value) -> Vec<(String, Vec<String>)> {
    IDENTITY
        .iter()
        .filter_map(|n| {
            echo["headers"][*n].as_array().map(|vs| {
                (
                    (*n).to_owned(),
                    vs.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                )
            })
        })
        .collect()
}
