//! API keys through the gateway: `Authorization: ApiKey` and `api_key_header`, never the
//! query string; unknown, expired and revoked keys refused; `allow` and identity headers
//! on the key's principal; keys never reach the upstream, metrics or challenges; the key
//! file reloaded on change, a broken file keeping the old keys.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{call, challenge, key_line, server_head};
use crate::support::bearer::echoed_headers;
use crate::support::bearer::{config, poll, route, start_ready, ProviderYaml, AUD};
use crate::support::client::Resp;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Bed {
    _idp: FakeIdp,
    gw: TestGateway,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn bed(file_text: &str) -> Bed {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.yaml");
    std::fs::write(&file, file_text).expect("write keys");
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let yaml = server_head(None)
        + &format!(
            "api_keys:\n  - {{ name: ci, file: \"{}\" }}\napi_key_header: X-API-Key\n",
            file.display()
        )
        + &config(
            &[ProviderYaml::default().with("userinfo: never").render(&idp)],
            &[
                route(
                    "keys",
                    "/keys/",
                    up,
                    &["auth: api_key", "forward_authorization: true"],
                ),
                route(
                    "deploy",
                    "/deploy/",
                    up,
                    &[
                        "auth: api_key",
                        "allow: { groups: [deployers], scopes: [deploy] }",
                    ],
                ),
                route(
                    "mixed",
                    "/mixed/",
                    up,
                    &["auth: any", "accept: [session, bearer, api_key]"],
                ),
                route("tokens", "/tokens/", up, &[]),
            ],
        )
        + &format!("session:\n  secrets: [\"{SECRET}\"]\n");
    let gw = start_ready(&yaml).await;
    Bed {
        _idp: idp,
        gw,
        file,
        _dir: dir,
    }
}

async fn with_key(gw: &TestGateway, path: &str, key: &str) -> Resp {
    let auth = format!("ApiKey {key}");
    call(gw, "GET", path, &[("authorization", &auth)]).await
}

#[tokio::test]
async fn a_key_authenticates_in_either_form_and_never_reaches_the_upstream() {
    let (key, line) = key_line("ci-bot", ", groups: [deployers, ops], scopes: [deploy]");
    let bed = bed(&line).await;
    let gw = &bed.gw;
    for (name, value) in [
        ("authorization", format!("ApiKey {key}")),
        ("authorization", format!("apikey  {key}")),
        ("x-api-key", key.clone()),
    ] {
        let r = call(
            gw,
            "GET",
            "/keys/x",
            &[(name, &value), ("authorization-extra", "1")],
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("ci-bot"));
        assert_eq!(r.echoed("x-auth-subject").as_deref(), Some("ci-bot"));
        assert_eq!(r.echoed("x-auth-groups").as_deref(), Some("deployers,ops"));
        let sent = echoed_headers(&r.json());
        assert!(
            !sent.iter().any(|(_, v)| v.contains(&key)),
            "key forwarded: {sent:?}"
        );
        assert!(!sent.iter().any(|(n, _)| n == "x-api-key"), "{sent:?}");
    }
    // Other Authorization schemes still reach an api_key route's upstream (forward_authorization).
    let r = call(
        gw,
        "GET",
        "/keys/x",
        &[("x-api-key", &key), ("authorization", "Basic dTpw")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("authorization").as_deref(), Some("Basic dTpw"));
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"portcullis_api_key_checks_total{outcome="ok",source="ci"} 4"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&key) && !metrics.contains(&key[3..]),
        "key in metrics"
    );
}

#[tokio::test]
async fn missing_unknown_expired_and_query_keys_are_refused() {
    let (key, line) = key_line("ci-bot", "");
    let (old, old_line) = key_line("old-bot", ", expires: \"2001-01-01\"");
    let (later, later_line) = key_line("later-bot", ", expires: \"2999-01-01T00:00:00Z\"");
    let bed = bed(&format!("{line}{old_line}{later_line}")).await;
    let gw = &bed.gw;
    let r = call(gw, "GET", "/keys/x", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(challenge(&r), "ApiKey realm=\"keys\"");
    for (what, presented) in [("unknown", "pk_not-a-key"), ("expired", old.as_str())] {
        let r = with_key(gw, "/keys/x", presented).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(
            challenge(&r),
            "ApiKey realm=\"keys\", error=\"invalid_token\"",
            "{what}"
        );
        assert!(!r.text().contains(presented), "{what}: echoed");
    }
    assert_eq!(with_key(gw, "/keys/x", &later).await.status, 200);
    // The query string never authenticates, whatever it is called.
    for q in ["api_key", "apikey", "key", "access_token"] {
        let r = call(gw, "GET", &format!("/keys/x?{q}={key}"), &[]).await;
        assert_eq!(r.status, 401, "?{q}=");
    }
    // Ambiguity: two forms at once, or two key headers.
    let auth = format!("ApiKey {key}");
    let r = call(
        gw,
        "GET",
        "/keys/x",
        &[("authorization", &auth), ("x-api-key", &key)],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        gw,
        "GET",
        "/keys/x",
        &[("x-api-key", &key), ("x-api-key", &key)],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(gw, "GET", "/keys/x", &[("x-api-key", "a b")]).await;
    assert_eq!(r.status, 400);
    for (outcome, source, n) in [("unknown", "", 1.0), ("expired", "ci", 1.0)] {
        let series =
            format!("portcullis_api_key_checks_total{{outcome=\"{outcome}\",source=\"{source}\"}}");
        assert_eq!(gw.metric(&series).await, n, "{series}");
    }
}

#[tokio::test]
async fn allow_rules_apply_to_the_keys_identity() {
    let (deployer, a) = key_line("deployer", ", groups: [deployers], scopes: [deploy]");
    let (no_scope, b) = key_line("reader", ", groups: [deployers], scopes: [read]");
    let (outsider, c) = key_line("outsider", ", groups: [guests], scopes: [deploy]");
    let bed = bed(&format!("{a}{b}{c}")).await;
    assert_eq!(with_key(&bed.gw, "/deploy/x", &deployer).await.status, 200);
    let r = with_key(&bed.gw, "/deploy/x", &no_scope).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        challenge(&r),
        "ApiKey realm=\"deploy\", error=\"insufficient_scope\", scope=\"deploy\""
    );
    assert_eq!(with_key(&bed.gw, "/deploy/x", &outsider).await.status, 403);
    // A key is no token: a bearer-only route does not take it.
    let r = with_key(&bed.gw, "/tokens/x", &deployer).await;
    assert_eq!(r.status, 401);
    assert_eq!(challenge(&r), "Bearer realm=\"tokens\"");
}

#[tokio::test]
async fn auth_any_accepts_what_accept_lists() {
    let (key, line) = key_line("ci-bot", "");
    let bed = bed(&line).await;
    let gw = &bed.gw;
    assert_eq!(with_key(gw, "/mixed/x", &key).await.status, 200);
    let token = bed._idp.sign(bed._idp.claims_for(
        "sub-alice",
        AUD,
        json!({"preferred_username": "alice"}),
    ));
    let r = call(
        gw,
        "GET",
        "/mixed/x",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    // A key beside a token the route would also read is ambiguous.
    let r = call(
        gw,
        "GET",
        "/mixed/x",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-api-key", &key),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(gw, "GET", "/mixed/x", &[("accept", "application/json")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        challenge(&r),
        "Bearer realm=\"mixed\", ApiKey realm=\"mixed\""
    );
}

async fn rewrite(file: &Path, text: &str) {
    // Through a temporary file and a rename, as deploy tools do (never half a file).
    let tmp = file.with_extension("tmp");
    tokio::fs::write(&tmp, text).await.expect("write");
    tokio::fs::rename(&tmp, file).await.expect("rename");
}

#[tokio::test]
async fn the_file_is_reloaded_revocations_apply_and_a_broken_file_keeps_the_old_keys() {
    let (first, a) = key_line("first", "");
    let (second, b) = key_line("second", "");
    let bed = bed(&a).await;
    let gw = &bed.gw;
    assert_eq!(with_key(gw, "/keys/x", &first).await.status, 200);
    assert_eq!(with_key(gw, "/keys/x", &second).await.status, 401);
    // Add `second`, revoke `first`.
    rewrite(&bed.file, &b).await;
    let swapped = poll(Duration::from_secs(20), || async {
        with_key(gw, "/keys/x", &second).await.status == 200
    })
    .await;
    assert!(swapped, "the new key never worked");
    assert_eq!(
        with_key(gw, "/keys/x", &first).await.status,
        401,
        "revoked key"
    );
    // A tampered file: the keys stay as they were, and the failure is counted.
    let errors = r#"portcullis_api_key_reloads_total{result="error",source="ci"}"#;
    for broken in ["- { sha256: \"zz\", sub: x }\n", "not: [a, list", ""] {
        let before = gw.metric(errors).await;
        rewrite(&bed.file, broken).await;
        let counted = poll(Duration::from_secs(20), || async {
            gw.metric(errors).await > before
        })
        .await;
        assert!(counted, "broken file {broken:?} not reported");
        assert_eq!(
            with_key(gw, "/keys/x", &second).await.status,
            200,
            "{broken:?}"
        );
    }
    assert_eq!(
        gw.metric(r#"portcullis_api_keys_loaded{source="ci"}"#)
            .await,
        1.0
    );
}
