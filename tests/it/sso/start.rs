//! Starting a test gateway for the SSO tests: on a port picked beforehand (so that
//! `server.public_url` is exact), retried when the port was taken meanwhile, and its
//! config rendered from a [`Setup`] around the FakeIdp and the echo upstream.

use std::net::SocketAddr;

use super::{Auth, Setup, CLIENT_ID};
use crate::support::bearer::wait_ready;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

/// Renders the gateway config and starts it on a pre-picked port (retried on a race).
pub(super) async fn gateway(
    idp: &FakeIdp,
    up: SocketAddr,
    setup: &Setup,
    dir: &std::path::Path,
) -> (TestGateway, String) {
    start_gateway(setup.scheme, |port, public| {
        render(idp, up, setup, port, public, dir)
    })
    .await
}

/// Starts a gateway from `yaml(port, public_url)` on a port picked beforehand (bind :0,
/// drop, reuse; retried when another process took it meanwhile) and waits until it is
/// ready. Returns it with its `public_url` (`<scheme>://127.0.0.1:<port>`).
pub async fn start_gateway(
    scheme: &str,
    yaml: impl Fn(u16, &str) -> String,
) -> (TestGateway, String) {
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let public = format!("{scheme}://127.0.0.1:{port}");
        let yaml = yaml(port, &public);
        let cfg = portcullis::config::load_str(&yaml)
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}\n{yaml}"));
        match portcullis::server::start(cfg, None).await {
            Ok(running) => {
                let gw = TestGateway {
                    url: format!("http://{}", running.addr),
                    admin_url: running
                        .admin_addr
                        .map(|a| format!("http://{a}"))
                        .unwrap_or_default(),
                    running,
                    _dir: None,
                    config_path: None,
                };
                wait_ready(&gw).await;
                return (gw, public);
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    panic!("gateway did not start: {last_err}");
}

fn render(
    idp: &FakeIdp,
    up: SocketAddr,
    s: &Setup,
    port: u16,
    public: &str,
    dir: &std::path::Path,
) -> String {
    let indent = |lines: &[String], n: usize| {
        lines
            .iter()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    let auth = match &s.auth {
        Auth::Basic => "client_secret_basic\n    client_secret: client-secret".to_owned(),
        Auth::Post => "client_secret_post\n    client_secret: client-secret".to_owned(),
        Auth::Jwt(key) => format!(
            "private_key_jwt\n    private_key_file: \"{}\"",
            key.write_pem(dir).display()
        ),
        Auth::Public => "none".to_owned(),
    };
    let secrets: Vec<String> = s.secrets.iter().map(|x| format!("\"{x}\"")).collect();
    // With more providers, the routes name theirs.
    let provider_line = if s.more_providers.is_empty() {
        ""
    } else {
        "    provider: idp\n"
    };
    let route = |name: &str, auth: &str, extra: &[String]| {
        format!(
            "  - name: {name}\n    match: {{ path_prefix: \"/{name}/\" }}\n    upstream: \
             \"http://{up}\"\n    auth: {auth}\n{}{}",
            if auth == "none" { "" } else { provider_line },
            indent(extra, 4)
        )
    };
    format!(
        "server:\n  listen: \"127.0.0.1:{port}\"\n  public_url: \"{public}\"\n{server}\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         providers:\n  - name: idp\n    issuer: \"{issuer}\"\n    client_id: {CLIENT_ID}\n    \
         client_auth: {auth}\n    scopes: [openid, profile, email, offline_access]\n    \
         auth_params: {{ prompt: login, acr_values: \"urn:test:loa:2\" }}\n    \
         tokens:\n      audiences: [api1]\n{provider}{more_providers}\
         session:\n  secrets: [{secrets}]\n{session}\
         routes:\n{app}{admin}{api}{open}{top}",
        server = indent(&s.server, 2),
        issuer = idp.issuer(),
        provider = indent(&s.provider, 4),
        more_providers = indent(&s.more_providers, 2).replace("$ISSUER", &idp.issuer()),
        secrets = secrets.join(", "),
        session = indent(&s.session, 2),
        app = route("app", "session", &s.app),
        admin = route(
            "admin",
            "session",
            &["allow: { groups: [admins] }".to_owned()]
        ),
        api = route("api", "any", &[]),
        open = route("open", "none", &[]),
        top = s.top,
    )
}
