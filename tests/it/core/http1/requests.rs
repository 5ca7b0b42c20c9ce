//! HTTP/1 requests on one connection: with and without bodies, bad heads, pipelining,
//! heads over the size limit however they arrive, half-closed clients, underscore
//! lookalikes of controlled fields, lingering on close, and chunked coding applied twice.

use super::*;

#[tokio::test]
async fn requests_with_and_without_bodies_and_bad_heads_share_a_connection() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    let steps: &[(&[u8], &str)] = &[
        (b"GET /plain-1 HTTP/1.1\r\nHost: t\r\n\r\n", "/plain-1"),
        (
            b"POST /with-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            "/with-body",
        ),
        (b"GET /plain-2 HTTP/1.1\r\nHost: t\r\n\r\n", "/plain-2"),
        (
            b"PUT /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "/chunked",
        ),
        (b"GET /plain-3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", "/plain-3"),
        (b"GET /plain-4 HTTP/1.1\r\nHost: t\r\n\r\n", "/plain-4"),
    ];
    for (req, marker) in steps {
        s.write_all(req).await.expect("write");
        read_until(&mut s, &mut seen, marker).await;
    }
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(
        text.matches("HTTP/1.1 200 OK\r\n").count(),
        steps.len(),
        "{text}"
    );

    // A malformed head gets a 400, a huge one a 431; neither reaches upstream.
    let text = exchange(&gw, b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let text = exchange(&gw, big.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
}

#[tokio::test]
async fn pipelined_requests_with_and_without_bodies_are_answered_in_order() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    // All at once: nothing may be lost or answered twice.
    let all = b"GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n\
POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\
GET /p3 HTTP/1.1\r\nHost: t\r\n\r\n\
GET /p4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let text = exchange(&gw, all).await;
    let order: Vec<usize> = ["/p1", "/p2", "/p3", "/p4"]
        .iter()
        .map(|p| text.find(&format!("\"{p}\"")).unwrap_or(usize::MAX))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?} {text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 4, "{text}");
}

#[tokio::test]
async fn a_head_over_the_size_limit_is_refused_however_it_arrives() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    // Twice the default 16 KiB, in pieces that a growing read buffer could take whole.
    let head = format!(
        "GET /big?q={} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(30_000)
    );
    let mut s = client(&gw).await;
    let mut at = 0usize;
    for piece in [3000, 4000, 8000, usize::MAX] {
        let end = at.saturating_add(piece).min(head.len());
        let _ = s.write_all(&head.as_bytes()[at..end]).await;
        at = end;
    }
    let text = read_to_close(&mut s).await;
    assert!(
        text.starts_with("HTTP/1.1 431 "),
        "{}",
        &text[..text.len().min(200)]
    );
}

#[tokio::test]
async fn a_pipelined_request_is_answered_after_the_client_half_closes() {
    // Input waiting behind the request being served means the
    // client is not watched for a hang-up, so its end of stream does not cancel it. (The
    // last request, with nothing behind it, is cancelled by the end of stream: a
    // client that closes is indistinguishable from one that half-closes.)
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    s.write_all(b"GET /r0 HTTP/1.1\r\nHost: t\r\n\r\nGET /r1 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    s.shutdown().await.expect("half-close");
    let text = read_to_close(&mut s).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\"/r0\""), "{text}");
}

#[tokio::test]
async fn underscore_lookalikes_of_framing_and_forwarding_fields_never_reach_the_upstream() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let request =
        b"GET /u HTTP/1.1\r\nHost: t\r\nTransfer_Encoding: chunked\r\nContent_Length: 5\r\n\
X_Forwarded_For: 6.6.6.6\r\nX_App_Key: kept\r\nConnection: close\r\n\r\n";
    let text = exchange(&gw, request).await.to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 "), "{text}");
    assert!(text.contains("x_app_key"), "{text}");
    assert!(!text.contains("transfer_encoding"), "{text}");
    assert!(!text.contains("content_length"), "{text}");
    assert!(!text.contains("6.6.6.6"), "{text}");
}

#[tokio::test]
async fn a_closed_connection_lingers_instead_of_resetting_what_the_client_still_sends() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let resp = read_to_close(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    // The gateway has sent its FIN and reads on (RFC 9112 §9.6): what arrives now is
    // dropped. A socket closed outright would answer the first write with a reset, and
    // the second would fail.
    for _ in 0..2 {
        s.write_all(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write after the response: the gateway lingers");
    }
}

#[tokio::test]
async fn chunked_applied_twice_or_after_another_coding_is_400_and_the_connection_ends() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    for te in [
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ] {
        // What follows the head would be a second request if the body were read once.
        let request = format!(
            "POST /a HTTP/1.1\r\nHost: t\r\n{te}\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
        );
        let text = exchange(&gw, request.as_bytes()).await;
        assert!(text.starts_with("HTTP/1.1 400 "), "{te}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "one answer only: {text}"
        );
        assert!(!text.contains("smuggled"), "{text}");
    }
}
