// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! `routes[].rate_limit` and `rate_limit_store`: both spellings (one mapping, a list),
//! defaults, and every refusal with its field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::*;

fn with_routes(routes: &str) -> String {
    format!("{PROVIDER}routes:\n{routes}")
}

#[test]
fn a_single_mapping_and_a_list_both_load() {
    let cfg = try_load(&with_routes(
        r#"
  - name: one
    match: { path_prefix: /one/ }
    upstream: "http://127.0.0.1:1"
    auth: bearer
    rate_limit: { key: ip, rate: 50/s, burst: 100 }
  - name: many
    match: { path_prefix: /many/ }
    upstream: "http://127.0.0.1:1"
    auth: bearer
    rate_limit:
      - { key: principal, rate: 10/m }
      - { key: "header:X-Api-Key", rate: 1/h, burst: 5 }
      - { key: client, rate: "${RATE:-7/d}" }
"#,
    ))
    .unwrap();
    assert_eq!(cfg.rate_limit_store, RateLimitStore::Local);
    let one = &cfg.routes[0].rate_limit;
    assert_eq!(
        one,
        &vec![RateLimit {
            key: RateLimitKey::Ip,
            count: 50,
            period: Duration::from_secs(1),
            burst: 100
        }]
    );
    let many = &cfg.routes[1].rate_limit;
    assert_eq!(many.len(), 3);
    assert_eq!(many[0].key, RateLimitKey::Principal);
    assert_eq!(many[0].burst, 10, "burst defaults to the rate's count");
    assert_eq!(
        many[1].key,
        RateLimitKey::Header(http::HeaderName::from_static("x-api-key"))
    );
    assert_eq!((many[1].count, many[1].burst), (1, 5));
    assert_eq!(many[2].period, Duration::from_secs(86_400));
}

#[test]
fn store_redis_needs_the_session_redis_url() {
    let route = r#"
  - name: api
    upstream: "http://127.0.0.1:1"
    auth: none
    rate_limit: { key: ip, rate: 1/s }
"#;
    let errs = errors(&format!("rate_limit_store: redis\n{}", with_routes(route)));
    assert_issue(&errs, "rate_limit_store", "session.redis.url");
    let errs = errors(&format!("rate_limit_store: memory\n{}", with_routes(route)));
    assert_issue(&errs, "rate_limit_store", "not one of: local, redis");
    let cfg = try_load(&format!(
        "rate_limit_store: redis\nsession:\n  redis: {{ url: \"redis://127.0.0.1:6379\" }}\n{}",
        with_routes(route)
    ))
    .unwrap();
    assert_eq!(cfg.rate_limit_store, RateLimitStore::Redis);
}

#[test]
fn every_bad_limit_is_reported_with_its_path() {
    let errs = errors(&with_routes(
        r#"
  - name: open
    upstream: "http://127.0.0.1:1"
    auth: none
    rate_limit:
      - { key: principal, rate: 1/s }
      - { key: client, rate: 1/s }
      - { rate: 1/s }
      - { key: ip }
      - { key: ip, rate: 100/sec }
      - { key: ip, rate: 0/s }
      - { key: ip, rate: 1/s, burst: 0 }
      - { key: "header:x-forwarded-for", rate: 1/s }
      - { key: "header:x-auth-user", rate: 1/s }
      - { key: ip, rate: 1/d, burst: 1000 }
      - { key: ip, rate: 1/s, brust: 2 }
      - { key: everyone, rate: 1/s }
      - { key: ip, rate: 1/s, burst: many }
"#,
    ));
    let p = "routes[0].rate_limit";
    assert_issue(&errs, &format!("{p}[0].key"), "auth: none");
    assert_issue(&errs, &format!("{p}[1].key"), "auth: none");
    assert_issue(&errs, &format!("{p}[2].key"), "missing");
    assert_issue(&errs, &format!("{p}[3].rate"), "missing");
    assert_issue(&errs, &format!("{p}[4].rate"), "unit s, m, h or d");
    assert_issue(&errs, &format!("{p}[5].rate"), "at least one request");
    assert_issue(&errs, &format!("{p}[6].burst"), "between 1 and");
    assert_issue(&errs, &format!("{p}[7].key"), "key: ip");
    assert_issue(&errs, p, "`header:x-auth-user` names an identity header");
    assert_issue(&errs, &format!("{p}[9]"), "more than a year");
    assert_issue(&errs, &format!("{p}[10].brust"), "did you mean `burst`");
    assert_issue(&errs, &format!("{p}[11].key"), "not one of principal");
    assert_issue(&errs, &format!("{p}[12].burst"), "non-negative integer");
}

#[test]
fn a_rate_limit_of_the_wrong_shape_is_a_type_error() {
    let errs = errors(&with_routes(
        r#"
  - name: api
    upstream: "http://127.0.0.1:1"
    auth: none
    rate_limit: "50/s"
"#,
    ));
    assert_issue(&errs, "routes[0].rate_limit", "expected a list");
}

#[test]
fn a_route_takes_at_most_sixteen_limits() {
    let items = "      - { key: ip, rate: 1/s }\n".repeat(17);
    let errs = errors(&with_routes(&format!(
        "  - name: api\n    upstream: \"http://127.0.0.1:1\"\n    auth: none\n    rate_limit:\n{items}"
    )));
    assert_issue(&errs, "routes[0].rate_limit", "at most 16");
}
