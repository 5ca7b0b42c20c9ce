// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The gRPC translation table, detection from `Content-Type`, and the trailers-only shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http_body_util::BodyExt;

use super::*;
use crate::auth::AuthError;

fn detect(ct: &[u8]) -> Option<GrpcKind> {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_bytes(ct).unwrap());
    GrpcKind::detect(&h)
}

#[test]
fn detection_follows_the_media_type() {
    for (ct, kind) in [
        (&b"application/grpc"[..], Some(GrpcKind::Grpc)),
        (b"application/grpc+proto", Some(GrpcKind::Grpc)),
        (
            b"Application/GRPC+json; charset=utf-8",
            Some(GrpcKind::Grpc),
        ),
        (b" application/grpc ;x=1", Some(GrpcKind::Grpc)),
        (b"application/grpc-web", Some(GrpcKind::Web)),
        (b"application/grpc-web+proto", Some(GrpcKind::Web)),
        (b"application/grpc-web-text", Some(GrpcKind::WebText)),
        (b"application/grpc-web-text+proto", Some(GrpcKind::WebText)),
        (b"application/grpcx", None),
        (b"application/grpc-webx", None),
        (b"application/grpc-web-textual", None),
        (b"application/json", None),
        (b"application/gr", None),
        (b"", None),
        (b"\xff\xfe", None),
    ] {
        assert_eq!(detect(ct), kind, "{}", String::from_utf8_lossy(ct));
    }
    assert_eq!(GrpcKind::detect(&HeaderMap::new()), None);
}

#[test]
fn statuses_map_to_grpc_codes() {
    for (err, code) in [
        (GatewayError::Auth(AuthError::Missing), 16),
        (GatewayError::Auth(AuthError::InvalidToken("x".into())), 16),
        (GatewayError::LoginRequired("/oauth2/start".into()), 16),
        (GatewayError::Forbidden("groups"), 7),
        (GatewayError::InsufficientScope("a".into()), 7),
        (GatewayError::HeadersTooLarge, 8),
        (GatewayError::UpstreamConnect("x".into()), 14),
        (GatewayError::UpstreamProtocol("x".into()), 14),
        (GatewayError::Unavailable("x".into()), 14),
        (
            GatewayError::Auth(AuthError::IdpUnavailable("x".into())),
            14,
        ),
        (GatewayError::UpstreamTimeout, 4),
        (GatewayError::NotFound, 12),
        (GatewayError::BadRequest("x"), 3),
        (GatewayError::Auth(AuthError::Malformed("x")), 3),
        (GatewayError::Internal("x".into()), 13),
    ] {
        assert_eq!(GrpcCode::for_status(err.status()).0, code, "{err}");
    }
    assert_eq!(
        GrpcCode::for_status(StatusCode::TOO_MANY_REQUESTS).name(),
        "RESOURCE_EXHAUSTED"
    );
    assert_eq!(
        GrpcCode::for_status(StatusCode::IM_A_TEAPOT).name(),
        "UNKNOWN"
    );
}

fn ctx(id: &HeaderValue, kind: GrpcKind) -> ErrorContext<'_> {
    ErrorContext {
        resource_metadata: None,
        request_id: id,
        realm: Some("api"),
        schemes: &[],
        html: true,
        grpc: Some(kind),
    }
}

#[tokio::test]
async fn denials_are_trailers_only_and_never_redirect() {
    let id = HeaderValue::from_static("rid");
    let r = super::super::respond(
        &GatewayError::Auth(AuthError::Missing),
        &ctx(&id, GrpcKind::Grpc),
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/grpc");
    assert_eq!(r.headers()[GRPC_STATUS], "16");
    assert_eq!(r.headers()[GRPC_MESSAGE], "Authentication is required.");
    assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());

    let login = GatewayError::LoginRequired("/oauth2/start?rd=%2F".into());
    let r = super::super::respond(&login, &ctx(&id, GrpcKind::Web));
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/grpc-web");
    assert_eq!(r.headers()[GRPC_STATUS], "16");
    assert!(r.headers().get(LOCATION).is_none(), "never a redirect");

    let r = super::super::respond(
        &GatewayError::Unavailable("redis down at 10.0.0.1".into()),
        &ctx(&id, GrpcKind::WebText),
    );
    assert_eq!(r.headers()[CONTENT_TYPE], "application/grpc-web-text");
    assert_eq!(r.headers()[GRPC_STATUS], "14");
    let message = r.headers()[GRPC_MESSAGE].to_str().unwrap();
    assert!(
        !message.contains("10.0.0.1"),
        "no cause in grpc-message: {message}"
    );
    assert!(r.headers().get(RETRY_AFTER).is_none());

    // A rate limit's message names Retry-After: the answer carries it, as metadata.
    let limited = crate::error::limited::Limited::new(
        std::sync::Arc::from("ip"),
        HeaderValue::from_static("\"ip\";q=1;w=60"),
        60,
    );
    let r = super::super::respond(
        &GatewayError::RateLimited(Box::new(limited)),
        &ctx(&id, GrpcKind::Grpc),
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[GRPC_STATUS], "8");
    assert_eq!(r.headers()[RETRY_AFTER], "60");
    assert_eq!(r.headers()["ratelimit"], "\"ip\";r=0;t=60");
    assert_eq!(r.headers()["ratelimit-policy"], "\"ip\";q=1;w=60");
}

#[test]
fn messages_are_percent_encoded() {
    assert_eq!(percent_encode("a b%c"), "a b%25c");
    assert_eq!(percent_encode("é\n"), "%C3%A9%0A");
    assert_eq!(percent_encode("~!"), "~!");
}
