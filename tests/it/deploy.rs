//! deploy/: every YAML file parses (multi-document manifests too); every portcullis config
//! in it — plain files and ConfigMap data — loads with the real config loader; the
//! Kubernetes Deployments probe /healthz and /readyz and leave enough termination grace
//! for preStop + shutdown_grace; the Dockerfile runs as non-root with a HEALTHCHECK, and
//! that HEALTHCHECK command really passes against a running admin port (no docker here).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

use crate::support::TestGateway;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn files_with(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_with(&p, exts, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(p);
        }
    }
}

/// The variables the example configs reference; secrets get well-formed dummies.
fn env(name: &str) -> Option<String> {
    match name {
        // base64 of 32 bytes.
        n if n.ends_with("COOKIE_SECRET") => {
            Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into())
        }
        n if n.contains("SECRET") || n.contains("PASSWORD") => Some("dummy-secret".into()),
        "REDIS_URL" => Some("redis://:pw@portcullis-redis:6379/0".into()),
        _ => None,
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            Value::deserialize(d)
                .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn load(what: &str, text: &str) -> portcullis::config::Config {
    portcullis::config::load_str_with_env(text, &env)
        .unwrap_or_else(|e| panic!("{what} does not load as a portcullis config:\n{e}"))
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

/// Seconds of a preStop hook: `exec: sleep N` or the built-in `sleep: {seconds: N}`.
fn pre_stop_seconds(container: &Value) -> u64 {
    let hook = &container["lifecycle"]["preStop"];
    if let Some(s) = hook["sleep"]["seconds"].as_u64() {
        return s;
    }
    let cmd: Vec<&str> = hook["exec"]["command"]
        .as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match cmd.as_slice() {
        ["sleep", n] => n.parse().expect("preStop sleep seconds"),
        _ => 0,
    }
}

/// Checks one Deployment that runs portcullis against the configs of its file.
fn check_deployment(what: &str, doc: &Value, grace_needed: Duration) {
    let spec = &doc["spec"]["template"]["spec"];
    let containers = spec["containers"].as_sequence().expect("containers");
    let portcullis: Vec<&Value> = containers
        .iter()
        .filter(|c| str_at(c, &["image"]).is_some_and(|i| i.contains("portcullis")))
        .collect();
    if portcullis.is_empty() {
        return;
    }
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: terminationGracePeriodSeconds must be set"));
    for c in portcullis {
        assert_eq!(
            str_at(c, &["livenessProbe", "httpGet", "path"]),
            Some("/healthz"),
            "{what}"
        );
        assert_eq!(
            str_at(c, &["readinessProbe", "httpGet", "path"]),
            Some("/readyz"),
            "{what}"
        );
        let pre_stop = pre_stop_seconds(c);
        assert!(pre_stop > 0, "{what}: portcullis needs a preStop sleep");
        assert!(
            grace > pre_stop + grace_needed.as_secs(),
            "{what}: terminationGracePeriodSeconds {grace} must exceed preStop {pre_stop} + \
             shutdown_grace {grace_needed:?}"
        );
        assert!(
            c["securityContext"]["runAsUser"]
                .as_u64()
                .is_some_and(|u| u != 0)
                || spec["securityContext"]["runAsNonRoot"].as_bool() == Some(true),
            "{what}: portcullis must not run as root"
        );
    }
}

#[test]
fn every_yaml_under_deploy_parses_and_every_portcullis_config_loads() {
    let mut files = Vec::new();
    files_with(&deploy_dir(), &["yaml", "yml"], &mut files);
    let mut configs = 0;
    let mut manifests = 0;
    let mut traefik = 0;
    for path in &files {
        let name = path
            .strip_prefix(deploy_dir())
            .unwrap_or(path)
            .display()
            .to_string();
        let docs = documents(path);
        assert!(!docs.is_empty(), "{name}: empty");
        // Configs of this file's ConfigMaps, for the Deployments beside them.
        let mut grace = Duration::ZERO;
        let mut deployments = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let what = format!("{name} document {i}");
            if let Some(kind) = str_at(doc, &["kind"]) {
                manifests += 1;
                assert!(str_at(doc, &["apiVersion"]).is_some(), "{what}: apiVersion");
                assert!(
                    str_at(doc, &["metadata", "name"]).is_some(),
                    "{what}: metadata.name"
                );
                match kind {
                    "ConfigMap" => {
                        for (key, value) in doc["data"].as_mapping().into_iter().flatten() {
                            let key = key.as_str().unwrap_or_default();
                            if key.ends_with(".yaml") || key.ends_with(".yml") {
                                let text = value.as_str().expect("ConfigMap data is text");
                                let cfg = load(&format!("{what} data.{key}"), text);
                                grace = grace.max(cfg.server.timeouts.shutdown_grace);
                                configs += 1;
                            }
                        }
                    }
                    "Deployment" => deployments.push((what, doc)),
                    _ => {}
                }
            } else if doc.get("http").is_some() {
                // Traefik dynamic configuration.
                traefik += 1;
                let fwd = doc["http"]["middlewares"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .find_map(|(_, m)| m.get("forwardAuth"))
                    .unwrap_or_else(|| panic!("{what}: no forwardAuth middleware"));
                assert!(
                    str_at(fwd, &["address"]).is_some_and(|a| a.ends_with("/oauth2/auth")),
                    "{what}: forwardAuth address"
                );
                assert_eq!(fwd["trustForwardHeader"].as_bool(), Some(true), "{what}");
                let names: Vec<&str> = fwd["authResponseHeaders"]
                    .as_sequence()
                    .map(|s| s.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for h in [
                    "X-Auth-User",
                    "X-Auth-Email",
                    "X-Auth-Groups",
                    "X-Auth-Subject",
                ] {
                    assert!(names.contains(&h), "{what}: authResponseHeaders lacks {h}");
                }
            } else {
                // Anything else is a portcullis config and must load.
                let text = serde_yaml::to_string(doc).expect("re-serialise");
                load(&what, &text);
                configs += 1;
            }
        }
        for (what, doc) in deployments {
            check_deployment(&what, doc, grace);
        }
    }
    assert!(
        configs >= 4,
        "expected the nginx, traefik, sidecar and standalone configs, got {configs}"
    );
    assert!(
        manifests >= 8,
        "expected the Kubernetes manifests, got {manifests}"
    );
    assert!(traefik >= 1, "expected the Traefik dynamic config");
}

/// The Dockerfile with continuation lines joined.
fn dockerfile() -> Vec<String> {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).expect("deploy/Dockerfile");
    let mut lines = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') && cur.is_empty() {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                if !cur.trim().is_empty() {
                    lines.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    lines
}

#[test]
fn dockerfile_builds_locked_release_runs_non_root_and_checks_health() {
    let lines = dockerfile();
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    assert!(
        lines.iter().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage build"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cargo build --release --locked")),
        "release build with the lock file"
    );
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER instruction");
    let user = user.trim().split(':').next().unwrap_or_default();
    assert!(
        !matches!(user, "root" | "0"),
        "runtime user must not be root: {user}"
    );
    assert!(has("EXPOSE 8080 9090"), "EXPOSE 8080 9090");
    assert!(has("HEALTHCHECK "), "HEALTHCHECK");
    assert!(
        lines.iter().any(|l| l.contains("ca-certificates")),
        "ca-certificates"
    );
}

/// The exec-form command of the HEALTHCHECK instruction.
fn healthcheck_command() -> Vec<String> {
    let line = dockerfile()
        .into_iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("HEALTHCHECK");
    let json = &line[line.find("CMD [").expect("exec-form CMD") + 4..];
    serde_json::from_str(json.trim()).expect("CMD is a JSON array")
}

fn run_check(cmd: &[String], admin_port: u16) -> bool {
    let args: Vec<String> = cmd
        .iter()
        .map(|a| a.replace("127.0.0.1/9090", &format!("127.0.0.1/{admin_port}")))
        .collect();
    assert_ne!(args, cmd, "the healthcheck must target 127.0.0.1/9090");
    std::process::Command::new(&args[0])
        .args(&args[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the healthcheck")
        .status
        .success()
}

#[tokio::test]
async fn the_dockerfile_healthcheck_passes_against_a_live_admin_port() {
    let cmd = healthcheck_command();
    let gw = TestGateway::start("routes: []\n").await;
    let port = gw.running.admin_addr.expect("admin listener").port();
    let ok = tokio::task::spawn_blocking({
        let cmd = cmd.clone();
        move || run_check(&cmd, port)
    })
    .await
    .expect("join");
    assert!(ok, "healthcheck failed against a running gateway");
    let closed = crate::support::closed_port().await.port();
    let failed = tokio::task::spawn_blocking(move || !run_check(&cmd, closed))
        .await
        .expect("join");
    assert!(failed, "healthcheck must fail when nothing listens");
}
