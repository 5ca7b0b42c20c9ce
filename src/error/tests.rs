// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests of the status and body each error gets.
use super::*;

fn ctx() -> (HeaderValue,) {
    (HeaderValue::from_static("abc123"),)
}

#[test]
fn statuses_follow_the_error_model() {
    let cases: Vec<(GatewayError, u16)> = vec![
        (GatewayError::NotFound, 404),
        (GatewayError::BadRequest("x"), 400),
        (GatewayError::HeadersTooLarge, 431),
        (GatewayError::Auth(AuthError::Missing), 401),
        (
            GatewayError::Auth(AuthError::InvalidToken("exp".into())),
            401,
        ),
        (GatewayError::Auth(AuthError::Malformed("two headers")), 400),
        (
            GatewayError::Auth(AuthError::IdpUnavailable("down".into())),
            503,
        ),
        (GatewayError::InsufficientScope("a b".into()), 403),
        (GatewayError::Forbidden("groups"), 403),
        (GatewayError::UpstreamConnect("refused".into()), 502),
        (GatewayError::UpstreamProtocol("bad".into()), 502),
        (GatewayError::UpstreamTimeout, 504),
        (GatewayError::Unavailable("redis".into()), 503),
        (
            GatewayError::Auth(AuthError::Dpop(DpopError::InvalidProof(
                crate::auth::dpop::ProofError::Replay,
            ))),
            401,
        ),
        (
            GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce("n".into()))),
            401,
        ),
        (
            GatewayError::Auth(AuthError::Dpop(DpopError::Unavailable("redis".into()))),
            503,
        ),
        (GatewayError::Auth(AuthError::IdpThrottled(3)), 503),
        (GatewayError::Internal("bug".into()), 500),
        (GatewayError::RateLimited(Box::new(limited())), 429),
    ];
    for (err, status) in cases {
        assert_eq!(err.status().as_u16(), status, "{err}");
    }
}

fn limited() -> crate::ratelimit::Limited {
    let q = crate::ratelimit::gcra::Quota::new(1, std::time::Duration::from_secs(60), 2);
    let field = crate::ratelimit::fields::policy_field("ip", &q.expect("quota"));
    crate::ratelimit::Limited::new("ip".into(), field, 42)
}

#[test]
fn bearer_challenges_per_rfc6750() {
    let (id,) = ctx();
    let c = ErrorContext {
        resource_metadata: None,
        request_id: &id,
        realm: Some("api"),
        schemes: &[],
        html: false,
        grpc: None,
    };
    let r = respond(&GatewayError::Auth(AuthError::Missing), &c);
    assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    let r = respond(&GatewayError::Auth(AuthError::InvalidToken("x".into())), &c);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"api\", error=\"invalid_token\""
    );
    let r = respond(&GatewayError::InsufficientScope("a.read b".into()), &c);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"a.read b\""
    );
    let r = respond(&GatewayError::Forbidden("users"), &c);
    assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
}

#[test]
fn challenges_name_the_schemes_the_route_accepts() {
    let (id,) = ctx();
    let token_only = ["token".to_owned()];
    let c = ErrorContext {
        resource_metadata: None,
        request_id: &id,
        realm: Some("api"),
        schemes: &token_only,
        html: false,
        grpc: None,
    };
    let r = respond(&GatewayError::Auth(AuthError::Missing), &c);
    assert_eq!(r.headers()[WWW_AUTHENTICATE], "Token realm=\"api\"");
    let both = ["bearer".to_owned(), "token".to_owned()];
    let c = ErrorContext {
        resource_metadata: None,
        schemes: &both,
        ..c
    };
    let r = respond(&GatewayError::Auth(AuthError::InvalidToken("x".into())), &c);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"api\", error=\"invalid_token\", Token realm=\"api\", error=\"invalid_token\""
    );
}

#[test]
fn body_never_carries_the_cause() {
    let (id,) = ctx();
    let c = ErrorContext {
        resource_metadata: None,
        request_id: &id,
        realm: None,
        schemes: &[],
        html: false,
        grpc: None,
    };
    let err = GatewayError::UpstreamConnect("secret-host:1234 token=abc".into());
    let r = respond(&err, &c);
    let body = format!("{:?}", r.body());
    assert!(!body.contains("secret-host"));
    assert!(!body.contains("token=abc"));
    let r = respond(&GatewayError::Unavailable("x".into()), &c);
    assert_eq!(r.headers()[RETRY_AFTER], "5");
    let r = respond(&GatewayError::Auth(AuthError::IdpThrottled(42)), &c);
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()[RETRY_AFTER], "42");
    assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
}

#[test]
fn realm_cannot_break_the_header() {
    assert_eq!(quoted_safe("a\"b\\c\r\nd"), "abcd");
}
