// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Loading: every shipped config, defaults, interpolation and normalised values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use super::*;

#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("yaml" | "yml")) {
            continue;
        }
        seen += 1;
        if let Err(e) = load_file_with_env(&path, &secret_env) {
            panic!("{} does not load:\n{e}", path.display());
        }
    }
    assert!(
        seen >= 2,
        "expected the example and dev configs in {}",
        dir.display()
    );
}

#[test]
fn example_covers_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/portcullis.example.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    // Commented-out keys (file paths that must exist) count as documented.
    let uncommented = text.replace("# ", "");
    fn keys(fields: &[schema::Field], out: &mut Vec<&'static str>) {
        for (name, shape) in fields {
            out.push(name);
            match shape {
                schema::Shape::Obj(sub) => keys(sub, out),
                schema::Shape::List(schema::Shape::Obj(sub))
                | schema::Shape::OneOrList(schema::Shape::Obj(sub)) => keys(sub, out),
                _ => {}
            }
        }
    }
    let schema::Shape::Obj(root) = &schema::ROOT else {
        unreachable!()
    };
    let mut all = Vec::new();
    keys(root, &mut all);
    for key in all {
        assert!(
            uncommented.contains(&format!("{key}:")),
            "portcullis.example.yaml does not document `{key}`"
        );
    }
}

#[test]
fn dev_config_needs_no_environment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dev.yaml");
    let config = load_file_with_env(&path, &no_env).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin.listen.unwrap().to_string(), "127.0.0.1:9090");
    assert_eq!(config.routes.len(), 1);
    assert_eq!(config.routes[0].name, "echo");
    assert_eq!(config.routes[0].auth, AuthMode::None);
    assert_eq!(
        config.routes[0].upstream.authority.as_str(),
        "127.0.0.1:8081"
    );
}

#[test]
fn empty_file_and_empty_mapping_give_defaults() {
    for text in ["", "{}", "# nothing\n", "server:\nroutes:\n"] {
        let c = load_str_with_env(text, &no_env).unwrap();
        assert!(c.routes.is_empty() && c.providers.is_empty());
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
        assert!(c.server.public_url.is_none() && c.server.tls.is_none());
        assert_eq!(c.server.proxy_prefix, "/oauth2");
        assert_eq!(c.server.escaped_slashes, EscapedSlashes::Reject);
        assert_eq!(c.server.timeouts.header_read, Duration::from_secs(10));
        assert_eq!(c.server.timeouts.idle, Duration::from_secs(60));
        assert_eq!(c.server.timeouts.shutdown_grace, Duration::from_secs(30));
        assert_eq!(c.server.limits.max_header_bytes, 16384);
        assert_eq!(c.admin.listen.unwrap().to_string(), "127.0.0.1:9090");
        assert_eq!(c.log.format, LogFormat::Pretty);
        assert_eq!(c.log.level, "info");
        let s = &c.session;
        assert_eq!(s.cookie_name, "portcullis");
        assert!(s.secrets.is_empty() && s.refresh);
        assert_eq!(s.lifetime, Duration::from_secs(12 * 3600));
        assert_eq!(s.idle_timeout, Duration::from_secs(3600));
        assert_eq!(s.store, SessionStoreKind::Cookie);
        assert!(s.redis_url.is_none());
    }
}

#[test]
fn provider_and_route_defaults() {
    let text = format!(
        "{PROVIDER}\nroutes:\n  - name: api\n    upstream: http://127.0.0.1:3000\n    auth: bearer\n"
    );
    let c = try_load(&text).unwrap();
    let p = &c.providers[0];
    assert_eq!(
        p.discovery_url,
        "https://idp.example.com/.well-known/openid-configuration"
    );
    assert_eq!(p.client_auth, ClientAuth::ClientSecretBasic);
    assert_eq!(p.client_secret.as_ref().unwrap().expose(), KEY);
    assert_eq!(p.scopes, ["openid", "profile", "email"]);
    assert_eq!(p.userinfo, UserinfoMode::Auto);
    assert!(p.signing_algs.is_none());
    assert_eq!(p.tokens.schemes, ["bearer"]);
    assert_eq!(p.tokens.audiences, ["portcullis"]);
    assert_eq!(p.tokens.leeway, Duration::from_secs(60));
    assert_eq!(p.tokens.jwks_refetch_interval, Duration::from_secs(10));
    assert_eq!(p.tokens.verified_cache_size, 10_000);
    assert!(p.tokens.introspection.is_none());
    assert_eq!(p.claims.username, ["preferred_username", "email", "sub"]);
    assert_eq!(p.claims.email, ["email"]);
    assert_eq!(p.claims.groups, ["groups"]);
    let r = &c.routes[0];
    assert_eq!(r.path_prefix, "/");
    assert!(r.host.is_none());
    assert_eq!(r.provider, Some(0));
    assert!(r.forward_authorization && !r.pass_access_token);
    assert!(!r.strip_prefix && !r.preserve_host);
    assert_eq!(r.timeouts.connect, Duration::from_secs(5));
    assert_eq!(r.timeouts.response, Duration::from_secs(60));
    let headers: Vec<(&str, &str)> = r
        .identity_headers
        .iter()
        .map(|(h, t)| (h.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        headers,
        [
            ("x-auth-user", "{username}"),
            ("x-auth-email", "{email}"),
            ("x-auth-groups", "{groups}"),
            ("x-auth-subject", "{sub}"),
        ]
    );
    assert_eq!(r.upstream.base_path, "");
    assert!(!r.upstream.https);
}

#[test]
fn introspection_defaults() {
    let text = format!("{PROVIDER}    tokens:\n      introspection:\n        client_id: api1\n        client_secret: s\n");
    let c = try_load(&text).unwrap();
    let i = c.providers[0].tokens.introspection.as_ref().unwrap();
    assert_eq!(i.auth_method, ClientAuth::ClientSecretBasic);
    assert_eq!(i.cache_ttl, Duration::from_secs(300));
    assert_eq!(i.negative_cache_ttl, Duration::from_secs(10));
    assert_eq!(i.cache_size, 10_000);
    assert!(!i.jwt_fallback);
}

#[test]
fn interpolation_defaults_and_coercion() {
    let env = |name: &str| match name {
        "PORT" => Some("9000".to_owned()),
        "BYTES" => Some("32768".to_owned()),
        "REFRESH" => Some("false".to_owned()),
        _ => None,
    };
    let text = r#"
server:
  listen: "127.0.0.1:${PORT}"
  public_url: "${PUBLIC_URL:-https://gw.example.com/}"
  limits: { max_header_bytes: "${BYTES}" }
session:
  refresh: "${REFRESH:-true}"
  logout_redirect: "/bye$${literal}"
"#;
    let c = load_str_with_env(text, &env).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9000");
    // Trailing slash stripped: the URL is an origin.
    assert_eq!(
        c.server.public_url.unwrap().authority().unwrap().as_str(),
        "gw.example.com"
    );
    assert_eq!(c.server.limits.max_header_bytes, 32768);
    assert!(!c.session.refresh);
    assert_eq!(c.session.logout_redirect.as_deref(), Some("/bye${literal}"));
}

#[test]
fn missing_variable_is_an_error_with_its_path() {
    let errs = load_str_with_env(PROVIDER, &no_env).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "providers[0].client_secret: environment variable PORTCULLIS_CLIENT_SECRET is not set"
    );
}

#[test]
fn env_values_cannot_inject_yaml_structure() {
    let env = |_: &str| Some("x\nroutes: [{name: evil}]".to_owned());
    let errs = load_str_with_env("log: { level: \"${LEVEL}\" }", &env).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "log.level");
}

#[test]
fn read_error_is_one_issue() {
    let errs = load_file(Path::new("/nonexistent/portcullis.yaml")).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert!(errs.0[0].message.starts_with("cannot read"));
}

#[test]
fn session_secrets_required_only_for_session_routes() {
    let text = format!("{PROVIDER}routes: [{{ name: app, upstream: 'http://a', auth: any }}]\n");
    let errs = errors(&text);
    assert_issue(&errs, "session.secrets", "route `app` uses `auth: any`");
    let with_key = format!("{text}session: {{ secrets: [\"{KEY}\"] }}\n");
    let c = try_load(&with_key).unwrap();
    let key = decode_session_secret(&c.session.secrets[0]).unwrap();
    assert_eq!(key.len(), 32);
    let bearer =
        format!("{PROVIDER}routes: [{{ name: api, upstream: 'http://a', auth: bearer }}]\n");
    assert!(try_load(&bearer).is_ok());
}

#[test]
fn routes_are_normalised() {
    let text = r#"
routes:
  - name: a
    match: { host: "*.Example.COM", path_prefix: "/a/./b//c/../" }
    upstream: "https://Up.example.com:8443/base/"
    auth: none
    identity_headers: { X-User: "{username}", X-Org: "org={claims.org.id}" }
  - name: b
    match: { host: API.example.com }
    upstream: "http://127.0.0.1:3000"
    auth: none
"#;
    let c = try_load(text).unwrap();
    let a = &c.routes[0];
    assert_eq!(a.host, Some(HostMatch::Suffix(".example.com".into())));
    assert_eq!(a.path_prefix, "/a/b/");
    assert!(a.upstream.https);
    assert_eq!(a.upstream.authority.as_str(), "Up.example.com:8443");
    assert_eq!(a.upstream.base_path, "/base");
    assert_eq!(a.identity_headers.len(), 2);
    assert_eq!(a.identity_headers[1].0.as_str(), "x-org");
    assert_eq!(
        c.routes[1].host,
        Some(HostMatch::Exact("api.example.com".into()))
    );
}

#[test]
fn relative_files_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), "cert").unwrap();
    std::fs::write(dir.path().join("tls.key"), "key").unwrap();
    let config = dir.path().join("gw.yaml");
    std::fs::write(
        &config,
        "server: { tls: { cert_file: tls.crt, key_file: tls.key } }",
    )
    .unwrap();
    let c = load_file_with_env(&config, &no_env).unwrap();
    let tls = c.server.tls.unwrap();
    assert_eq!(tls.cert_file, dir.path().join("tls.crt"));
    assert_eq!(tls.key_file, dir.path().join("tls.key"));
}

#[test]
fn allow_claims_become_json() {
    let text = format!(
        "{PROVIDER}session: {{ secrets: [\"{KEY}\"] }}\nroutes:\n  - name: a\n    upstream: http://a\n    auth: session\n    allow:\n      email_domains: [Example.com]\n      claims: {{ email_verified: true, level: 3, tenant: [a, 1], \"org.id\": x }}\n"
    );
    let c = try_load(&text).unwrap();
    let allow = &c.routes[0].allow;
    assert_eq!(allow.email_domains, ["example.com"]);
    assert_eq!(allow.claims["email_verified"], serde_json::json!(true));
    assert_eq!(allow.claims["level"], serde_json::json!(3));
    assert_eq!(allow.claims["tenant"], serde_json::json!(["a", 1]));
    assert_eq!(allow.claims["org.id"], serde_json::json!("x"));
}

#[test]
fn summary_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/portcullis.example.yaml");
    let c = load_file_with_env(&path, &secret_env).unwrap();
    assert_eq!(
        c.summary(),
        "config OK: 4 routes (api, app, mcp, public), 1 provider (corp), listen 0.0.0.0:8080, admin 127.0.0.1:9090"
    );
    let c = try_load("admin: { listen: off }").unwrap();
    assert_eq!(
        c.summary(),
        "config OK: 0 routes, 0 providers, listen 0.0.0.0:8080, admin off"
    );
}

#[test]
fn sign_in_routes_without_public_url_are_warned_about() {
    let routes = "routes:\n  - { name: app, upstream: http://a, auth: session }\n  - { name: api, upstream: http://a, auth: bearer, match: { path_prefix: /api } }\n  - { name: both, upstream: http://a, auth: any, match: { path_prefix: /both } }\n";
    let text = format!("{PROVIDER}session: {{ secrets: [\"{KEY}\"] }}\n{routes}");
    let warnings = try_load(&text).unwrap().warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].path, "server.public_url");
    assert!(
        warnings[0].message.contains("(app, both)"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].message.contains("without Secure"),
        "no TLS here: {}",
        warnings[0]
    );
    let text = format!(
        "server: {{ public_url: \"https://app.example.com\" }}\n{PROVIDER}session: {{ secrets: [\"{KEY}\"] }}\n{routes}"
    );
    assert!(try_load(&text).unwrap().warnings().is_empty());
    assert!(
        try_load("routes: [{ name: r, upstream: 'http://a', auth: none }]")
            .unwrap()
            .warnings()
            .is_empty()
    );
}
