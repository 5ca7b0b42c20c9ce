// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The identity-provider client: form and Basic encoding, the plain-http refusal, the
//! body cap and connect failures (never echoing a secret), JSON content types.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn form_encoding_escapes_reserved_characters() {
    assert_eq!(
        form_encode(&[("token", "a b+c/d=e&f"), ("x", "é*-._~")]),
        "token=a+b%2Bc%2Fd%3De%26f&x=%C3%A9*-._%7E"
    );
    assert_eq!(form_encode(&[]), "");
}

#[test]
fn basic_auth_form_encodes_before_base64() {
    let v = basic_auth_value("my client", "p:ss%");
    let b64 = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(raw, b"my+client:p%3Ass%25");
    assert!(v.is_sensitive());
}

#[test]
fn plain_http_only_to_loopback() {
    assert!(checked_uri("http://127.0.0.1:8080/x").is_ok());
    assert!(checked_uri("http://[::1]:8080/x").is_ok());
    assert!(checked_uri("http://localhost/x").is_ok());
    assert!(checked_uri("https://idp.example.com/x").is_ok());
    assert!(matches!(
        checked_uri("http://idp.example.com/x"),
        Err(HttpError::BadUrl(_))
    ));
    assert!(matches!(
        checked_uri("http://127.0.0.1.evil.com/x"),
        Err(HttpError::BadUrl(_))
    ));
    assert!(checked_uri("/relative").is_err());
    assert!(checked_uri("ftp://127.0.0.1/x").is_err());
}

#[tokio::test]
async fn caps_bodies_and_reports_connect_failures() {
    use crate::oidc::testkit::{response, FakeServer};
    let server = FakeServer::start(|seen| async move {
        let body = "x".repeat(if seen.path == "/big" { 2048 } else { 16 });
        response(200, "text/plain", None, &body)
    })
    .await;
    let client = IdpClient::new(None, Duration::from_secs(5))
        .unwrap()
        .with_max_body(1024);
    let ok = client.get(&server.url("/small"), "*/*").await.unwrap();
    assert_eq!(ok.body.len(), 16);
    let big = client.get(&server.url("/big"), "*/*").await;
    assert!(matches!(big, Err(HttpError::TooLarge)), "{big:?}");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", free.local_addr().unwrap());
    drop(free);
    let refused = client.get(&url, "*/*").await;
    assert!(matches!(refused, Err(HttpError::Connect(_))), "{refused:?}");
    let refused = client
        .post_form(&url, &[("a", "b")], Some(("id", "SECRET")))
        .await;
    assert!(!format!("{refused:?}").contains("SECRET"));
}

#[test]
fn json_content_types() {
    let mk = |ct: &str| IdpResponse {
        status: StatusCode::OK,
        headers: {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            h
        },
        body: Bytes::new(),
    };
    assert!(mk("application/json").is_json());
    assert!(mk("Application/JSON; charset=utf-8").is_json());
    assert!(mk("application/jwk-set+json").is_json());
    assert!(!mk("text/html").is_json());
    assert!(!mk("application/jwt").is_json());
}
