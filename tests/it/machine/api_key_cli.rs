//! `portcullis api-key new` end to end: the printed entry, appended to a key file, makes
//! the printed key work through a running gateway; the key is printed once and the file
//! holds only its hash.

use std::process::Command;

use super::{call, server_head};
use crate::support::bearer::start_ready;
use crate::support::echo_upstream;

fn new_key(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["api-key", "new"])
        .args(args)
        .output()
        .expect("run portcullis")
}

#[tokio::test]
async fn a_generated_key_works_through_the_gateway() {
    let out = new_key(&[
        "--sub",
        "ci-bot",
        "--groups",
        "deployers,ops",
        "--scopes",
        "deploy",
        "--expires",
        "30d",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = stdout.lines();
    let key = lines.next().expect("the key").to_owned();
    let entry = lines.next().expect("the file entry").to_owned();
    assert!(lines.next().is_none(), "{stdout}");
    assert!(key.starts_with("pk_") && key.len() == 46, "{key}");
    assert!(
        !entry.contains(&key),
        "the file entry must hold only the hash"
    );
    assert!(
        entry.starts_with("- {") && entry.contains("\"sub\":\"ci-bot\""),
        "{entry}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown once"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.yaml");
    std::fs::write(&file, format!("{entry}\n")).expect("write");
    let up = echo_upstream().await;
    let yaml = server_head(None)
        + &format!(
            "api_keys:\n  - {{ name: ci, file: \"{}\" }}\n",
            file.display()
        )
        + &format!(
            "routes:\n  - name: ci\n    upstream: \"http://{up}\"\n    auth: api_key\n    \
             allow: {{ groups: [ops], scopes: [deploy] }}\n"
        );
    let gw = start_ready(&yaml).await;
    let r = call(
        &gw,
        "GET",
        "/x",
        &[("authorization", &format!("ApiKey {key}"))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("ci-bot"));
    assert_eq!(r.echoed("x-auth-groups").as_deref(), Some("deployers,ops"));
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--sub", " "][..],
        &["--sub", "x", "--expires", "soon"][..],
        &[][..],
    ] {
        let out = new_key(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: no key on failure");
    }
}

#[test]
fn check_config_reads_the_key_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.yaml");
    std::fs::write(&file, "- { sha256: \"not-hex\", sub: x }\n").expect("write");
    let cfg = dir.path().join("portcullis.yaml");
    std::fs::write(
        &cfg,
        format!(
            "api_keys:\n  - {{ name: ci, file: \"{}\" }}\nroutes:\n  - name: ci\n    \
             upstream: \"http://127.0.0.1:1\"\n    auth: api_key\n",
            file.display()
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api_keys[0] (ci)") && err.contains("64 hex digits"),
        "{err}"
    );
}
