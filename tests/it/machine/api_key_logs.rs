//! API keys never reach the logs: the real binary at `log.level: trace` with the access
//! log on, standard output and standard error captured, serves valid, unknown, expired
//! and misplaced keys; neither a key nor the whole hash a key file holds appears in any
//! line, nor in `/metrics` (a short hash prefix at most, to correlate).

use crate::core::access_log::{start_logged, stop};
use crate::support::client::get;
use crate::support::echo_upstream;

use super::{key_hash, key_line};

#[tokio::test]
async fn keys_and_their_hashes_never_reach_the_log_or_the_metrics() {
    let up = echo_upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (valid, a) = key_line("ci-bot", ", groups: [deployers]");
    let (expired, b) = key_line("old-bot", ", expires: \"2001-01-01\"");
    // Made like a real key, never written to the file.
    let (unknown, _) = key_line("nobody", "");
    let keys = dir.path().join("keys.yaml");
    std::fs::write(&keys, format!("{a}{b}")).expect("write keys");
    let yaml = format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  timeouts: {{ shutdown_grace: 1s }}\n\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         log:\n  format: json\n  level: trace\n  access: on\n\
         api_keys:\n  - {{ name: ci, file: \"{}\" }}\napi_key_header: X-API-Key\n\
         routes:\n  - name: keys\n    upstream: \"http://{up}\"\n    auth: api_key\n",
        keys.display()
    );
    let mut bin = start_logged(&yaml, &dir);
    let base = format!("http://{}", bin.addr);
    let scheme = |k: &str| format!("ApiKey {k}");
    // (what, query, header name, header value, status)
    let cases = [
        ("valid", "", "authorization", scheme(&valid), 200),
        ("valid header", "", "x-api-key", valid.clone(), 200),
        ("unknown", "", "authorization", scheme(&unknown), 401),
        ("unknown header", "", "x-api-key", unknown.clone(), 401),
        ("expired", "", "authorization", scheme(&expired), 401),
        (
            "as bearer",
            "",
            "authorization",
            format!("Bearer {valid}"),
            401,
        ),
        ("in the query", "?api_key=", "x-other", String::new(), 401),
    ];
    for (what, query, name, value, status) in &cases {
        let url = if query.is_empty() {
            format!("{base}/x")
        } else {
            format!("{base}/x{query}{valid}")
        };
        let r = get(&url, &[(*name, value.as_str())]).await;
        assert_eq!(r.status, *status, "{what}: {}", r.text());
    }
    let metrics = get(&format!("http://{}/metrics", bin.admin), &[])
        .await
        .text();
    assert!(
        metrics.contains("portcullis_api_key_checks_total"),
        "{metrics}"
    );
    let mut lines = bin.head.clone();
    lines.extend(stop(&mut bin.child, &bin.lines));

    // The capture saw what it should: one access line per request, the key's identity
    // in the admitted ones, and the debug line of the refused unknown key.
    let json: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let access: Vec<_> = json.iter().filter(|v| v["target"] == "access").collect();
    assert_eq!(access.len(), cases.len(), "{lines:#?}");
    assert_eq!(access.iter().filter(|v| v["user"] == "ci-bot").count(), 2);
    let short = &key_hash(&unknown)[..16];
    assert!(
        json.iter()
            .any(|v| v["message"] == "unknown API key" && v["key"] == short),
        "{lines:#?}"
    );

    for (what, secret) in [
        ("valid key", valid.clone()),
        ("valid key body", valid["pk_".len()..].to_owned()),
        ("unknown key", unknown.clone()),
        ("expired key", expired.clone()),
        ("valid key's hash", key_hash(&valid)),
        ("unknown key's hash", key_hash(&unknown)),
        ("expired key's hash", key_hash(&expired)),
    ] {
        for line in &lines {
            assert!(!line.contains(&secret), "{what} in the log: {line}");
        }
        assert!(!metrics.contains(&secret), "{what} in /metrics");
    }
}
