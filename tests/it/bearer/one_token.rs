//! One token per request (RFC 6750 §2): a request authenticated by its Authorization
//! header that also carries `access_token` in the query or a form body is refused (400
//! `invalid_request`) before it reaches the upstream; a query token alone is no
//! credential (bare 401) and is never validated.

use bytes::Bytes;
use serde_json::json;

use super::{active, standard_bed, user};
use crate::support::bearer::{anonymous, assert_bare_challenge, bearer};
use crate::support::client::{raw, send, Resp};
use crate::support::fake_idp::Endpoint;

#[track_caller]
fn assert_invalid_request(r: &Resp, what: &str) {
    assert_invalid_request_in(r, "api", what);
}

#[track_caller]
fn assert_invalid_request_in(r: &Resp, realm: &str, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("Bearer realm=\"{realm}\", error=\"invalid_request\"").as_str()),
        "{what}"
    );
    // The gateway's own answer, not the upstream's echo.
    assert_eq!(r.json()["error"], "invalid_request", "{what}");
}

#[tokio::test]
async fn a_token_in_the_query_as_well_as_the_header_is_400_in_every_spelling() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let other = idp.new_reference_token(active(&idp, "mallory", json!({})));
    for query in [
        format!("access_token={other}"),
        format!("a=1&access_token={other}"),
        format!("a=1;access_token={other}"),
        format!("ACCESS_TOKEN={other}"),
        format!("access%5Ftoken={other}"),
        format!("access%255Ftoken={other}"),
        format!("access_token[]={other}"),
        format!("access.token={other}"),
        format!("accessToken={other}"),
        "access_token=".to_owned(),
    ] {
        let r = bearer(&gw, &format!("/orders?{query}"), &token).await;
        assert_invalid_request(&r, &query);
    }
    // Refused before any validation: the second token was never introspected.
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
    // Other parameters are fine, and the header token alone still works.
    let r = bearer(&gw, "/orders?token_hint=1&a=access_token", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    // The header token is cached now (a hit skips its checks): the query still refuses.
    let r = bearer(&gw, &format!("/orders?access_token={other}"), &token).await;
    assert_invalid_request(&r, "cached header token");
}

#[tokio::test]
async fn a_query_token_alone_is_no_credential_and_never_validated() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let good = idp.new_reference_token(active(&idp, "alice", json!({})));
    let jwt = idp.sign(user(&idp, "alice", json!({})));
    for t in [&good, &jwt] {
        let r = anonymous(&gw, &format!("/orders?access_token={t}")).await;
        assert_bare_challenge(&r, "api", "query token alone");
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
}

async fn post(gw_url: &str, token: &str, content_type: &str, body: &str) -> Resp {
    let auth = format!("Bearer {token}");
    send(
        "POST",
        &format!("{gw_url}/stream"),
        &[("authorization", &auth), ("content-type", content_type)],
        Bytes::from(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn a_token_in_a_form_body_as_well_as_the_header_is_400() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let form = "application/x-www-form-urlencoded";
    for (ct, body) in [
        (form, "access_token=other"),
        (form, "a=1&access_token=other"),
        (
            "Application/X-WWW-Form-URLEncoded; charset=utf-8",
            "access%5Ftoken=x",
        ),
        (form, "x=1;ACCESS_TOKEN=x"),
    ] {
        assert_invalid_request(&post(&gw.url, &token, ct, body).await, body);
    }
    // A form without one is forwarded intact (read, checked, sent from memory).
    let r = post(&gw.url, &token, form, "a=1&b=access_token").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "a=1&b=access_token");
    // Other content types are not read: JSON is the upstream's business.
    let r = post(&gw.url, &token, "application/json", "{\"access_token\":1}").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "{\"access_token\":1}");
    // A form too large to check cheaply is refused, not forwarded unchecked.
    let big = format!("a={}", "x".repeat(64 * 1024));
    assert_invalid_request(&post(&gw.url, &token, form, &big).await, "64 KiB form");
    let fits = format!("a={}", "x".repeat(64 * 1024 - 2));
    let r = post(&gw.url, &token, form, &fits).await;
    assert_eq!(r.status, 200, "a form of exactly the limit");
    assert_eq!(r.body.len(), 64 * 1024);

    // Chunked (no Content-Length): the same check on the bytes as they arrive.
    let head = format!(
        "POST /stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {form}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunked = format!("{head}5\r\na=1&a\r\nd\r\nccess_token=x\r\n0\r\n\r\n");
    let answer = raw(gw.running.addr, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn any_routes_and_forward_auth_check_the_query_too() {
    let bed = crate::forward_auth::Bed::start("[\"127.0.0.1\"]").await;
    let token = bed.token("alice", &[]);
    // `auth: any` with a header token is a bearer request.
    let r = bearer(&bed.gw, "/x?access_token=y", &token).await;
    assert_invalid_request_in(&r, "app", "auth: any");
    assert_eq!(bearer(&bed.gw, "/x?y=1", &token).await.status, 200);
    // Forward-auth judges the original request's query (the front proxy sends no body).
    let auth = format!("Bearer {token}");
    let ask = |uri: &'static str| {
        let (url, auth) = (format!("{}/oauth2/auth", bed.gw.url), auth.clone());
        async move {
            let h = [("x-original-uri", uri), ("authorization", auth.as_str())];
            crate::support::client::get(&url, &h).await
        }
    };
    assert_invalid_request(&ask("/api/x?access%5Ftoken=y").await, "forward-auth");
    assert_eq!(ask("/api/x?y=1#access_token=z").await.status, 200);
}
