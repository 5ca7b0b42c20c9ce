// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The own HTTP/1.1 client codec's response heads (body framing: `h1/decode_tests.rs`),
//! with the malformed and ambiguous answers it must refuse.

use bytes::BytesMut;
use http::{Method, StatusCode};

use super::{parse_head, Body, Chunk, ProtoError, MAX_HEAD};

fn head(raw: &str) -> Result<Option<super::Head>, ProtoError> {
    parse_head(&mut BytesMut::from(raw), &Method::GET, &mut Vec::new())
}

fn parsed(raw: &str) -> super::Head {
    head(raw).expect("valid").expect("complete")
}

/// Every end-to-end field of a head.
fn fields(h: &super::Head) -> http::HeaderMap {
    h.headers.clone()
}

fn refused(raw: &str) -> &'static str {
    match head(raw) {
        Err(ProtoError(why)) => why,
        Ok(h) => panic!("accepted {raw:?}: {h:?}"),
    }
}

#[test]
fn a_head_split_anywhere_is_waited_for_then_parsed_whole() {
    let raw = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\r\nok";
    for cut in 0..raw.len() - 2 {
        let mut buf = BytesMut::from(&raw[..cut]);
        assert!(
            parse_head(&mut buf, &Method::GET, &mut Vec::new())
                .expect("no error")
                .is_none(),
            "cut {cut}"
        );
        buf.extend_from_slice(&raw.as_bytes()[cut..]);
        let h = parse_head(&mut buf, &Method::GET, &mut Vec::new())
            .expect("valid")
            .expect("complete");
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(fields(&h)["x-a"], "b");
        assert_eq!((h.body, h.keep_alive), (Body::Length(2), true));
        assert_eq!(&buf[..], b"ok", "the body stays in the buffer");
    }
}

#[test]
fn framing_follows_rfc_9112_section_6_3() {
    let chunked = parsed("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n");
    assert_eq!(
        (chunked.body, chunked.keep_alive),
        (Body::Chunked(Chunk::Size), true)
    );
    let until_close = parsed("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(
        (until_close.body, until_close.keep_alive),
        (Body::Close, false)
    );
    for no_body in [
        "HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        let h = parsed(no_body);
        assert_eq!((h.body, h.keep_alive), (Body::Length(0), true), "{no_body}");
    }
    let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    let h = parse_head(&mut buf, &Method::HEAD, &mut Vec::new())
        .expect("valid")
        .expect("complete");
    assert_eq!(h.body, Body::Length(0), "a HEAD response has no body");
    assert_eq!(fields(&h)["content-length"], "5", "its length is kept");
    let switching = parsed("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n");
    assert_eq!(
        (switching.body, switching.keep_alive),
        (Body::Length(0), false)
    );
}

#[test]
fn only_a_framed_http11_response_without_connection_close_keeps_the_connection() {
    for (raw, keep) in [
        ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", true),
        (
            "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            false,
        ),
        (
            "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\ncontent-length: 0\r\n\r\n",
            false,
        ),
        ("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n", false),
        (
            "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
            false,
        ),
    ] {
        assert_eq!(parsed(raw).keep_alive, keep, "{raw}");
    }
}

#[test]
fn informational_heads_are_skipped() {
    let mut buf = BytesMut::from(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
    );
    let h = parse_head(&mut buf, &Method::GET, &mut Vec::new())
        .expect("valid")
        .expect("complete");
    assert_eq!(h.status, StatusCode::CREATED);
    assert!(fields(&h).get("link").is_none());
    let mut buf = BytesMut::from("HTTP/1.1 100 Continue\r\n\r\n");
    assert!(parse_head(&mut buf, &Method::GET, &mut Vec::new())
        .expect("valid")
        .is_none());
    assert!(buf.is_empty());
}

#[test]
fn ambiguous_or_malformed_heads_are_refused() {
    for (raw, why) in [
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
            "several Content-Length fields",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "several Content-Length fields",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 0x5\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 1234567890123456789\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: xchunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            "Transfer-Encoding in an HTTP/1.0 response",
        ),
        (
            "HTTP/1.1 200 OK\r\nx-folded: a\r\n b\r\n\r\n",
            "malformed response head",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length : 5\r\n\r\n",
            "malformed response head",
        ),
        (
            "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            "malformed response head",
        ),
        ("HTTX/1.1 200 OK\r\n\r\n", "malformed response head"),
        ("HTTP/2.0 200 OK\r\n\r\n", "malformed response head"),
        ("HTTP/1.1 20 OK\r\n\r\n", "malformed response head"),
        ("HTTP/1.1 099 Low\r\n\r\n", "invalid response status"),
        (
            "HTTP/1.1 200 OK\r\nx-a: b\rc\r\n\r\n",
            "malformed response head",
        ),
        (
            "HTTP/1.1 200 OK\ncontent-length: 0\r\n\r\n",
            "bare LF in the response head",
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 0\n\n",
            "bare LF in the response head",
        ),
        (
            "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\r\n\r\n",
            "bare LF in the response head",
        ),
    ] {
        assert_eq!(refused(raw), why, "{raw:?}");
    }
}

#[test]
fn heads_past_the_limits_are_refused() {
    let mut many = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..101 {
        many.push_str(&format!("x-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(refused(&many), "too many response header fields");
    let big = format!("HTTP/1.1 200 OK\r\nx-big: {}", "a".repeat(MAX_HEAD));
    assert_eq!(refused(&big), "response head too large", "even unfinished");
    let big = format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(refused(&big), "response head too large");
}

#[test]
fn hop_by_hop_fields_and_those_connection_names_are_left_out() {
    let h = parsed(
        "HTTP/1.1 200 OK\r\nConnection: x-internal, close, host\r\nX-Internal: secret\r\n\
         Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: x-sum\r\n\
         Upgrade: h2c\r\nHost: up\r\nX-Kept: 1\r\ncontent-length: 0\r\n\r\n",
    );
    let all = fields(&h);
    let mut names: Vec<&str> = all.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    // `Trailer` is end-to-end (RFC 9110 §6.6.2): an HTTP/1 client needs it to get them.
    assert_eq!(names, ["content-length", "host", "trailer", "x-kept"]);
    assert!(!h.keep_alive, "close is still seen");
    let chunked = parsed("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    assert!(
        fields(&chunked).is_empty(),
        "the framing field is not forwarded"
    );
    assert_eq!(chunked.body, Body::Chunked(Chunk::Size));
}

#[test]
fn only_a_non_standard_reason_phrase_is_kept() {
    assert!(parsed("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .reason
        .is_none());
    let custom = parsed("HTTP/1.1 200 Fine Thanks\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(
        custom.reason.as_ref().map(|r| r.as_bytes()),
        Some(&b"Fine Thanks"[..])
    );
}

#[test]
fn a_reason_phrase_that_is_not_utf8_is_dropped_not_a_panic() {
    // Found by fuzzing: httparse reports such a phrase as a static "".
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 C\xf9\r\ncontent-length: 0\r\n\r\n"[..]);
    let h = parse_head(&mut buf, &Method::GET, &mut Vec::new())
        .expect("valid")
        .expect("complete");
    assert_eq!(h.status, StatusCode::OK);
    assert!(h.reason.is_none());
    let mut buf = BytesMut::from(&b"HTTP/1.1 100 C\xf9\r\n\r\n"[..]);
    assert!(parse_head(&mut buf, &Method::GET, &mut Vec::new())
        .expect("valid")
        .is_none());
}

#[test]
fn fields_are_kept_in_order_in_the_header_map_without_hop_by_hop_ones_in_any_case() {
    let h = parsed(
        "HTTP/1.1 200 OK\r\nServer: up\r\nCONNECTION: Keep-Alive\r\nX-Request-Id: forged\r\n\
         Set-Cookie: a=1\r\nKEEP-alive: timeout=5\r\nDate: Thu, 26 Nov 2026 06:00:00 GMT\r\n\
         Content-Length:   2  \r\nUpgrade: h2c\r\nset-cookie: b=2\r\nX-Empty:\r\n\r\nok",
    );
    let kept: Vec<(&str, &str)> = h
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().expect("text")))
        .collect();
    assert_eq!(
        kept,
        [
            ("server", "up"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("date", "Thu, 26 Nov 2026 06:00:00 GMT"),
            ("content-length", "2"),
            ("x-empty", ""),
        ],
        "the upstream's X-Request-Id is not kept"
    );
    assert!(h.keep_alive);
    assert!(h.upgrade.is_none(), "Upgrade of a non-101 is no switch");
}

#[test]
fn a_connection_that_names_other_fields_removes_them_too() {
    let h = parsed(
        "HTTP/1.1 200 OK\r\nX-Secret: 1\r\nconnection: X-Secret, Host\r\nX-Kept: 2\r\n\
         X-Request-Id: forged\r\nhost: h\r\ncontent-length: 0\r\n\r\n",
    );
    let mut names: Vec<&str> = h.headers.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["content-length", "host", "x-kept"]);
}

#[test]
fn a_101_keeps_the_protocol_it_switched_to() {
    let mut buf = BytesMut::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nearly frame",
    );
    let h = parse_head(&mut buf, &Method::GET, &mut Vec::new())
        .expect("valid")
        .expect("complete");
    assert_eq!(h.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        h.upgrade.as_ref().map(|v| v.as_bytes()),
        Some(&b"websocket"[..])
    );
    assert_eq!(
        h.headers.len(),
        1,
        "only the end-to-end field: {:?}",
        h.headers
    );
    assert!(!h.keep_alive);
    assert_eq!(
        &buf[..],
        b"early frame",
        "tunnelled bytes stay in the buffer"
    );
}
