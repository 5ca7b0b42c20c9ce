// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Preflight answers and refusals, and the response-side fields, on a parsed policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http_body_util::Either;

use super::*;
use crate::config::load_str_with_env;

fn policy(cors: &str) -> CorsConfig {
    let yaml = format!(
        "routes:\n  - name: api\n    upstream: \"http://127.0.0.1:1\"\n    auth: none\n    cors: {cors}\n"
    );
    let cfg = load_str_with_env(&yaml, &|_| None).unwrap();
    cfg.routes[0].cors.clone().unwrap()
}

const STRICT: &str = "{ allow_origins: [\"https://app.example\", \"https://*.example.com\"], \
     allow_methods: [GET, PUT], allow_headers: [Authorization, Content-Type], \
     expose_headers: [ETag], allow_credentials: true, max_age: 10m }";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn refusal(cors: &CorsConfig, pairs: &[(&str, &str)]) -> &'static str {
    match answer(cors, &headers(pairs)) {
        Err(GatewayError::CorsRefused(why)) => why,
        Ok(r) => panic!("allowed: {pairs:?} -> {:?}", r.headers()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn allowed_preflight_names_back_what_was_asked() {
    let c = policy(STRICT);
    let r = answer(
        &c,
        &headers(&[
            ("origin", "https://x.example.com"),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "content-type,AUTHORIZATION",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://x.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "GET, PUT");
    assert_eq!(
        h[ACCESS_CONTROL_ALLOW_HEADERS],
        "content-type, authorization"
    );
    assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
    assert_eq!(h[VARY], PREFLIGHT_VARY);
    assert!(h.get(ACCESS_CONTROL_EXPOSE_HEADERS).is_none());
    assert!(r.extensions().get::<Answered>().is_some());
    // Nothing asked: no Allow-Headers; header lines may repeat and hold empty items.
    let r = answer(
        &c,
        &headers(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ]),
    )
    .unwrap();
    assert!(r.headers().get(ACCESS_CONTROL_ALLOW_HEADERS).is_none());
    let r = answer(
        &c,
        &headers(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", " , authorization"),
            ("access-control-request-headers", "content-type"),
        ]),
    )
    .unwrap();
    assert_eq!(
        r.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
        "authorization, content-type"
    );
}

#[test]
fn every_refusal_says_what() {
    let c = policy(STRICT);
    let m = ("access-control-request-method", "GET");
    for origin in [
        "https://evil.example",
        "null",
        "https://example.com",
        "https://a.b.example.com",
        "https://APP.example",
        "https://app.example:443",
        "http://app.example",
        "https://app.example.evil",
    ] {
        assert_eq!(refusal(&c, &[("origin", origin), m]), "origin", "{origin}");
    }
    let o = ("origin", "https://app.example");
    for method in ["DELETE", "get", "PUT ", "*"] {
        assert_eq!(
            refusal(&c, &[o, ("access-control-request-method", method)]),
            "method",
            "{method}"
        );
    }
    let too_many = vec!["authorization"; 65].join(",");
    for asked in [
        "x-other",
        "authorization, x-other",
        "bad name",
        "a:b",
        &too_many,
    ] {
        assert_eq!(
            refusal(&c, &[o, m, ("access-control-request-headers", asked)]),
            "headers",
            "{asked}"
        );
    }
    assert_eq!(
        refusal(
            &c,
            &[o, m, ("access-control-request-private-network", "true")]
        ),
        "private_network"
    );
}

#[test]
fn private_network_and_wildcards_when_configured() {
    let c =
        policy("{ allow_origins: [\"*\"], allow_headers: [\"*\"], allow_private_network: true }");
    let r = answer(
        &c,
        &headers(&[
            ("origin", "null"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-anything,authorization"),
            ("access-control-request-private-network", "true"),
        ]),
    )
    .unwrap();
    let h = r.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(h.get(ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "x-anything, authorization");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK], "true");
    assert_eq!(h[VARY], PREFLIGHT_VARY_PNA);
}

fn response(fields: &[(&str, &str)]) -> Response<ResBody> {
    let mut r = Response::new(Either::Right(Full::new(Bytes::new())));
    *r.headers_mut() = headers(fields);
    r
}

#[test]
fn responses_carry_the_fields_for_allowed_origins_only() {
    let c = policy(STRICT);
    let upstream = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "false"),
        ("access-control-expose-headers", "x-secret"),
        ("access-control-allow-methods", "DELETE"),
        ("vary", "Accept-Encoding"),
    ];
    let allowed = HeaderValue::from_static("https://app.example");
    let mut r = response(&upstream);
    apply(&c, Some(&allowed), &mut r, true);
    let h = r.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    assert_eq!(h.get_all(ACCESS_CONTROL_ALLOW_ORIGIN).iter().count(), 1);
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], "etag");
    assert!(h.get(ACCESS_CONTROL_ALLOW_METHODS).is_none());
    let vary: Vec<_> = h.get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);

    for origin in [None, Some(HeaderValue::from_static("https://evil.example"))] {
        let mut r = response(&upstream);
        apply(&c, origin.as_ref(), &mut r, true);
        let h = r.headers();
        assert!(
            OWNED.iter().all(|n| !h.contains_key(n)),
            "{origin:?}: {h:?}"
        );
        assert_eq!(h.get_all(VARY).iter().count(), 2, "Vary: Origin always");
    }
    // Vary already naming Origin (any case) is left alone.
    let mut r = response(&[("vary", "accept, ORIGIN")]);
    apply(&c, Some(&allowed), &mut r, true);
    assert_eq!(r.headers().get_all(VARY).iter().count(), 1);
    // A preflight answer is final.
    let mut r = response(&[]);
    r.extensions_mut().insert(Answered);
    apply(&c, Some(&allowed), &mut r, false);
    assert!(r.headers().is_empty());
}

#[test]
fn own_denials_expose_what_explains_them() {
    let c = policy(STRICT);
    let allowed = HeaderValue::from_static("https://app.example");
    let mut r = response(&[
        ("www-authenticate", "Bearer realm=\"api\""),
        ("grpc-status", "16"),
        ("content-type", "application/json"),
    ]);
    apply(&c, Some(&allowed), &mut r, false);
    assert_eq!(
        r.headers()[ACCESS_CONTROL_EXPOSE_HEADERS],
        "etag, www-authenticate, grpc-status"
    );
    let any = policy("{ allow_origins: [\"*\"], expose_headers: [\"*\"] }");
    let mut r = response(&[("retry-after", "5")]);
    apply(&any, Some(&allowed), &mut r, false);
    assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(r.headers()[ACCESS_CONTROL_EXPOSE_HEADERS], "*");
}
