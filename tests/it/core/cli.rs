//! The `portcullis` binary's check-config command.

use std::process::Command;

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

#[test]
fn check_config_lists_every_error_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        r#"
server:
  listen: "not-an-address"
routs: []
routes:
  - name: a
    upstream: "ftp://x"
    auth: none
  - name: a
    upstream: "http://127.0.0.1:1"
    auth: sometimes
session:
  secrets: ["c2hvcnQtc2VjcmV0LXZhbHVl"]
"#,
    )
    .expect("write");
    let out = portcullis()
        .arg("check-config")
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "server.listen",
        "routs",
        "did you mean `routes`",
        "routes[0].upstream",
        "routes[1].name",
        "routes[1].auth",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    assert!(
        !err.contains("c2hvcnQtc2VjcmV0LXZhbHVl"),
        "secret echoed:\n{err}"
    );
}

#[test]
fn check_config_summarises_a_valid_file() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/config/dev.yaml");
    let out = portcullis()
        .arg("check-config")
        .arg(file)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 route"), "{text}");
}

/// Issue 19 item 7: a bearer-only provider needs no client secret; once a session route
/// signs browsers in with it, check-config names the field and the route.
#[test]
fn check_config_names_the_route_that_needs_client_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.yaml");
    let bearer_only = "providers:\n  - { name: as, issuer: \"https://as.example.com\", client_id: gw }\n\
                       routes:\n  - { name: api, upstream: \"http://127.0.0.1:1\", auth: bearer }\n";
    std::fs::write(&file, bearer_only).expect("write");
    let out = portcullis()
        .arg("check-config")
        .arg(&file)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let with_session = format!(
        "{bearer_only}  - {{ name: app, upstream: \"http://127.0.0.1:1\", auth: any, \
         match: {{ path_prefix: /app }} }}\n\
         session: {{ secrets: [\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"] }}\n"
    );
    std::fs::write(&file, with_session).expect("write");
    let out = portcullis()
        .arg("check-config")
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let needle = "providers[0].client_secret: is required for client_auth client_secret_basic: \
                  route `app` (auth: any)";
    assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
}

#[test]
fn help_explains_the_commands() {
    let out = portcullis().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["run", "check-config", "--config"] {
        assert!(text.contains(needle), "{text}");
    }
    let out = portcullis().arg("--version").output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
