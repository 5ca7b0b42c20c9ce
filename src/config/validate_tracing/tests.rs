// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! `tracing:` loading: the endpoint form, defaults, and every refusal with its path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::config::TracingConfig;
use crate::config::{load_str_with_env, ConfigErrors};

fn env(name: &str) -> Option<String> {
    (name == "OTLP_KEY").then(|| "s3cr3t-api-key".to_owned())
}

fn load(tracing: &str) -> Result<TracingConfig, ConfigErrors> {
    let cfg = load_str_with_env(&format!("tracing: {tracing}\n"), &env)?;
    Ok(cfg.tracing.unwrap())
}

#[track_caller]
fn refused(tracing: &str, path: &str, needle: &str) -> ConfigErrors {
    let errs = load(tracing)
        .err()
        .unwrap_or_else(|| panic!("accepted: {tracing}"));
    assert!(
        errs.0
            .iter()
            .any(|i| i.path == path && i.message.contains(needle)),
        "{tracing}: want `{path}: …{needle}…`, got:\n{errs}"
    );
    errs
}

#[test]
fn absent_means_off_and_defaults_apply() {
    assert!(load_str_with_env("{}", &env).unwrap().tracing.is_none());
    let t = load("{ otlp_endpoint: \"http://collector:4318\" }").unwrap();
    assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(t.sample_ratio, 1.0);
    assert_eq!(t.service_name, "portcullis");
    assert_eq!(t.timeout, Duration::from_secs(10));
    assert_eq!(t.batch_delay, Duration::from_secs(5));
    assert_eq!((t.queue_size, t.batch_size), (2048, 512));
    assert!(t.headers.is_empty() && t.resource.is_empty() && t.ca_file.is_none());
}

#[test]
fn the_traces_path_is_appended_once() {
    for (written, full) in [
        ("http://c:4318/", "http://c:4318/v1/traces"),
        (
            "https://otlp.example.com/otlp",
            "https://otlp.example.com/otlp/v1/traces",
        ),
        (
            "https://otlp.example.com/otlp/v1/traces",
            "https://otlp.example.com/otlp/v1/traces",
        ),
        (
            "http://[::1]:4318/v1/traces/",
            "http://[::1]:4318/v1/traces",
        ),
    ] {
        let t = load(&format!("{{ otlp_endpoint: \"{written}\" }}")).unwrap();
        assert_eq!(t.endpoint, full, "{written}");
    }
}

#[test]
fn every_key_is_read() {
    let t = load(
        "{ otlp_endpoint: \"https://c:4318\", sample_ratio: 0.01, service_name: edge, \
         headers: { Authorization: \"Bearer ${OTLP_KEY}\", X-Scope-OrgID: tenant1 }, \
         timeout: 3s, queue_size: 100, batch_size: 10, batch_delay: 200ms, \
         resource: { deployment.environment.name: prod } }",
    )
    .unwrap();
    assert_eq!(t.sample_ratio, 0.01);
    assert_eq!(t.service_name, "edge");
    assert_eq!(t.headers.len(), 2);
    assert_eq!(t.headers[0].0, "authorization");
    assert_eq!(t.headers[0].1.expose(), "Bearer s3cr3t-api-key");
    assert!(
        !format!("{t:?}").contains("s3cr3t"),
        "Debug hides header values"
    );
    assert_eq!(t.timeout, Duration::from_secs(3));
    assert_eq!((t.queue_size, t.batch_size), (100, 10));
    assert_eq!(t.batch_delay, Duration::from_millis(200));
    assert_eq!(t.resource["deployment.environment.name"], "prod");
}

#[test]
fn bad_values_are_refused_with_their_path() {
    refused(
        "{ sample_ratio: 0.5 }",
        "tracing.otlp_endpoint",
        "is required",
    );
    for bad in ["ftp://c/", "/v1/traces", "collector:4318", "http://"] {
        refused(
            &format!("{{ otlp_endpoint: \"{bad}\" }}"),
            "tracing.otlp_endpoint",
            "",
        );
    }
    let errs = refused(
        "{ otlp_endpoint: \"https://user:hunter2@c/\" }",
        "tracing.otlp_endpoint",
        "credentials",
    );
    assert!(!errs.to_string().contains("hunter2"));
    refused(
        "{ otlp_endpoint: \"http://c/?k=v\" }",
        "tracing.otlp_endpoint",
        "query",
    );
    let base = "otlp_endpoint: \"http://c:4318\"";
    for (extra, path) in [
        ("sample_ratio: 1.5", "tracing.sample_ratio"),
        ("sample_ratio: -0.1", "tracing.sample_ratio"),
        ("sample_ratio: NaN", "tracing.sample_ratio"),
        ("sample_ratio: half", "tracing.sample_ratio"),
        ("service_name: \" \"", "tracing.service_name"),
        ("timeout: 0s", "tracing.timeout"),
        ("batch_delay: soon", "tracing.batch_delay"),
        ("queue_size: 0", "tracing.queue_size"),
        ("queue_size: 10, batch_size: 11", "tracing.batch_size"),
        ("batch_size: 0", "tracing.batch_size"),
        ("ca_file: /nonexistent/ca.pem", "tracing.ca_file"),
        (
            "headers: { Content-Type: text/plain }",
            "tracing.headers.Content-Type",
        ),
        ("headers: { \"bad name\": x }", "tracing.headers.bad name"),
        (
            "resource: { service.name: x }",
            "tracing.resource.service.name",
        ),
    ] {
        refused(&format!("{{ {base}, {extra} }}"), path, "");
    }
    let errs = refused(
        "{ otlp_endpoint: \"http://c\", headers: { X-Key: \"${OTLP_KEY}\\n\" } }",
        "tracing.headers.X-Key",
        "not a valid header value",
    );
    assert!(!errs.to_string().contains("s3cr3t"));
    refused("{ endpoint: \"http://c\" }", "tracing.endpoint", "");
}
