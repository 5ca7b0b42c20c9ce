// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, DATE, TRAILER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};
use hyper::ext::ReasonPhrase;

use super::{
    encode_chunk_size, encode_chunked_end, encode_head, parse_request, Framing, Meta, Parsed, Size,
};

fn parse(bytes: &[u8]) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(bytes);
    let mut spans = Vec::new();
    let parsed = parse_request(&mut buf, &mut spans, 16 * 1024);
    (parsed, buf)
}

fn request(
    bytes: &[u8],
) -> (
    http::Request<crate::transport::upstream::ReqBody>,
    Meta,
    BytesMut,
) {
    match parse(bytes) {
        (Parsed::Request(req, meta), rest) => (req, meta, rest),
        (Parsed::Partial, _) => panic!("partial: {:?}", String::from_utf8_lossy(bytes)),
        (Parsed::Handoff, _) => panic!("handoff: {:?}", String::from_utf8_lossy(bytes)),
    }
}

#[test]
fn a_bodiless_request_is_taken_and_what_follows_stays() {
    let (req, meta, rest) = request(
        b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Two: a\r\nx-two: b\r\n\r\nGET /next",
    );
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.uri().path(), "/a/b");
    assert_eq!(req.uri().query(), Some("x=1"));
    assert_eq!(req.version(), Version::HTTP_11);
    assert_eq!(req.headers()["host"], "example.com");
    let twos: Vec<_> = req.headers().get_all("x-two").iter().collect();
    assert_eq!(twos, ["a", "b"]);
    assert_eq!(
        meta,
        Meta {
            version: Version::HTTP_11,
            keep_alive: true,
            head: false,
            trailers: false,
        }
    );
    assert_eq!(&rest[..], b"GET /next");
    use http_body::Body as _;
    assert!(req.body().is_end_stream());
}

#[test]
fn a_head_split_anywhere_is_partial_until_complete() {
    let whole = b"HEAD /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    let mut spans = Vec::new();
    for cut in 0..whole.len() {
        let mut buf = BytesMut::from(&whole[..cut]);
        assert!(
            matches!(parse_request(&mut buf, &mut spans, 1024), Parsed::Partial),
            "cut at {cut}"
        );
        assert_eq!(buf.len(), cut, "a partial head stays in the buffer");
    }
    let (_, meta, rest) = request(whole);
    assert!(meta.head);
    assert!(rest.is_empty());
    // Empty lines before a request line are skipped (RFC 9112 §2.2); endless ones fill
    // the buffer to its limit, and hyper answers that.
    assert!(matches!(parse(b"\r\n\r\n").0, Parsed::Partial));
    let (req, _, _) = request(b"\r\nGET /after HTTP/1.1\r\n\r\n");
    assert_eq!(req.uri().path(), "/after");
}

#[test]
fn heads_with_a_body_upgrade_or_doubt_are_left_to_hyper_untouched() {
    let cases: &[&[u8]] = &[
        // Any body framing: hyper decides its length.
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: 0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nTRANSFER-ENCODING: identity\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        // Interim responses and protocol switches.
        b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        // Malformed: hyper answers 400.
        b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n Transfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET \x01 HTTP/1.1\r\nHost: h\r\n\r\n",
    ];
    for case in cases {
        let (parsed, rest) = parse(case);
        assert!(
            matches!(parsed, Parsed::Handoff),
            "not handed off: {:?}",
            String::from_utf8_lossy(case)
        );
        assert_eq!(&rest[..], *case, "the buffer is as it was");
    }
    // More fields than hyper takes: hyper answers 431.
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..101 {
        many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(matches!(parse(&many).0, Parsed::Handoff));
    // A whole head longer than the limit (it arrived in one read): hyper's 431.
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(200));
    let mut buf = BytesMut::from(long.as_bytes());
    let parsed = parse_request(&mut buf, &mut Vec::new(), 100);
    assert!(matches!(parsed, Parsed::Handoff));
    assert_eq!(&buf[..], long.as_bytes());
}

#[test]
fn keep_alive_follows_version_and_connection() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
            false,
        ),
        // A later keep-alive does not undo a close.
        (
            b"GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
            false,
        ),
    ];
    for (case, keep_alive) in cases {
        let (req, meta, _) = request(case);
        assert_eq!(
            meta.keep_alive,
            *keep_alive,
            "{:?}",
            String::from_utf8_lossy(case)
        );
        assert_eq!(req.version(), meta.version);
    }
    let (_, meta, _) = request(b"GET / HTTP/1.1\r\nTE: gzip, Trailers\r\n\r\n");
    assert!(meta.trailers);
}

#[test]
fn request_targets_parse_as_hyper_parses_them() {
    let (req, _, _) = request(b"GET http://example.com:8080/p?q HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        req.uri().authority().map(|a| a.as_str()),
        Some("example.com:8080")
    );
    assert_eq!(req.uri().path(), "/p");
    let (req, _, _) = request(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(req.uri(), "*");
    // A target `http::Uri` refuses is hyper's to answer (400).
    assert!(matches!(
        parse(b"GET http://[::1/ HTTP/1.1\r\n\r\n").0,
        Parsed::Handoff
    ));
}

const H11: Meta = Meta {
    version: Version::HTTP_11,
    keep_alive: true,
    head: false,
    trailers: false,
};

fn encode(resp: &Response<()>, size: Size, meta: &Meta) -> (String, Framing, bool) {
    let mut out = Vec::new();
    let mut keep_alive = meta.keep_alive;
    let framing = encode_head(resp, size, meta, &mut keep_alive, &mut out);
    let text = String::from_utf8(out).expect("ascii head");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    (text, framing, keep_alive)
}

fn response(status: u16, fields: &[(&str, &str)]) -> Response<()> {
    let mut resp = Response::new(());
    *resp.status_mut() = StatusCode::from_u16(status).expect("status");
    for (name, value) in fields {
        resp.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    resp
}

#[test]
fn a_sized_body_is_framed_by_its_length_and_a_date_is_added() {
    let resp = response(
        200,
        &[("content-type", "text/plain"), ("content-length", "5")],
    );
    let (text, framing, keep_alive) = encode(&resp, Size::Exact(5), &H11);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"),
        "{text}"
    );
    assert_eq!(text.matches("content-length: 5\r\n").count(), 1, "{text}");
    assert!(text.contains("\r\ndate: "), "{text}");
    assert_eq!(framing, Framing::Length(5));
    assert!(keep_alive);
    assert!(!text.contains("connection"), "{text}");

    // An upstream's Date is kept, and none is added.
    let resp = response(200, &[(DATE.as_str(), "Tue, 01 Jan 2030 00:00:00 GMT")]);
    let (text, framing, _) = encode(&resp, Size::Empty, &H11);
    assert_eq!(text.matches("date: ").count(), 1, "{text}");
    assert!(text.contains("content-length: 0\r\n"), "{text}");
    assert_eq!(framing, Framing::Length(0));
}

#[test]
fn an_unknown_length_is_chunked_or_closes_for_http_1_0() {
    // The upstream's framing fields never pass: the gateway frames the body itself.
    let resp = response(200, &[("transfer-encoding", "gzip, chunked")]);
    let (text, framing, keep_alive) = encode(&resp, Size::Unknown, &H11);
    assert_eq!(framing, Framing::Chunked(None));
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(!text.contains("gzip"), "{text}");
    assert!(keep_alive);

    let h10 = Meta {
        version: Version::HTTP_10,
        keep_alive: true,
        ..H11
    };
    let (text, framing, keep_alive) = encode(&resp, Size::Unknown, &h10);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert_eq!(framing, Framing::Close);
    assert!(!keep_alive, "close-delimited: the connection ends");
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(!text.contains("keep-alive"), "{text}");

    // A length the response declares frames a body whose size is not known ahead.
    let resp = response(200, &[("content-length", "12")]);
    let (text, framing, _) = encode(&resp, Size::Unknown, &H11);
    assert_eq!(framing, Framing::Length(12));
    assert_eq!(text.matches("content-length: 12\r\n").count(), 1, "{text}");
    let resp = response(200, &[("content-length", "12"), ("content-length", "13")]);
    assert_eq!(encode(&resp, Size::Unknown, &H11).1, Framing::Chunked(None));
}

#[test]
fn head_204_and_304_have_no_body() {
    let head = Meta { head: true, ..H11 };
    let resp = response(200, &[("content-length", "1234")]);
    let (text, framing, _) = encode(&resp, Size::Empty, &head);
    assert_eq!(framing, Framing::Empty);
    assert!(
        text.contains("content-length: 1234\r\n"),
        "HEAD keeps GET's length: {text}"
    );
    // A generated answer to HEAD states the length GET would get.
    let (text, framing, _) = encode(&response(401, &[]), Size::Exact(40), &head);
    assert_eq!(framing, Framing::Empty);
    assert!(text.contains("content-length: 40\r\n"), "{text}");

    for status in [204, 304] {
        let resp = response(
            status,
            &[("content-length", "99"), ("transfer-encoding", "chunked")],
        );
        let (text, framing, keep_alive) = encode(&resp, Size::Unknown, &H11);
        assert_eq!(framing, Framing::Empty);
        assert!(!text.contains("content-length"), "{text}");
        assert!(!text.contains("transfer-encoding"), "{text}");
        assert!(keep_alive);
    }
}

#[test]
fn the_connection_field_is_written_by_the_connection() {
    // The client asked to close (or shutdown began): the response says so.
    let mut keep_alive = false;
    let mut out = Vec::new();
    encode_head(
        &response(200, &[]),
        Size::Empty,
        &H11,
        &mut keep_alive,
        &mut out,
    );
    let text = String::from_utf8(out).expect("ascii");
    assert!(text.contains("connection: close\r\n"), "{text}");

    // HTTP/1.0 keeps the connection only when both sides say keep-alive.
    let h10 = Meta {
        version: Version::HTTP_10,
        keep_alive: true,
        ..H11
    };
    let (text, _, keep_alive) = encode(&response(200, &[]), Size::Exact(3), &h10);
    assert!(text.contains("connection: keep-alive\r\n"), "{text}");
    assert!(keep_alive);

    // A response that asks to close ends the connection; its field is written once.
    let resp = response(200, &[("connection", "close")]);
    let (text, _, keep_alive) = encode(&resp, Size::Exact(3), &H11);
    assert!(!keep_alive);
    assert_eq!(text.matches("connection: close\r\n").count(), 1, "{text}");
    // Anything else in it is not passed on.
    let resp = response(200, &[("connection", "x-secret")]);
    let (text, _, keep_alive) = encode(&resp, Size::Exact(3), &H11);
    assert!(keep_alive);
    assert!(!text.contains("x-secret"), "{text}");
}

#[test]
fn status_lines_carry_the_reason_phrase() {
    let (text, _, _) = encode(&response(404, &[]), Size::Empty, &H11);
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    let (text, _, _) = encode(&response(599, &[]), Size::Empty, &H11);
    assert!(text.starts_with("HTTP/1.1 599 <none>\r\n"), "{text}");
    let mut resp = response(200, &[]);
    resp.extensions_mut()
        .insert(ReasonPhrase::from_static(b"Fine Thanks"));
    let (text, _, _) = encode(&resp, Size::Empty, &H11);
    assert!(text.starts_with("HTTP/1.1 200 Fine Thanks\r\n"), "{text}");
    // An interim status is never a final answer: hyper's 500 in its place.
    let (text, framing, keep_alive) = encode(&response(103, &[]), Size::Empty, &H11);
    assert!(
        text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{text}"
    );
    assert_eq!(framing, Framing::Empty);
    assert!(!keep_alive);
}

#[test]
fn trailers_go_out_only_when_accepted_and_declared() {
    let resp = response(
        200,
        &[(TRAILER.as_str(), "x-checksum, grpc-status, set-cookie")],
    );
    let (text, framing, _) = encode(&resp, Size::Unknown, &H11);
    assert_eq!(
        framing,
        Framing::Chunked(None),
        "the client did not send TE: trailers"
    );
    assert!(
        text.contains("trailer: x-checksum, grpc-status, set-cookie\r\n"),
        "{text}"
    );
    let accepts = Meta {
        trailers: true,
        ..H11
    };
    let (_, framing, _) = encode(&resp, Size::Unknown, &accepts);
    let Framing::Chunked(Some(allowed)) = framing else {
        panic!("{framing:?}")
    };
    assert_eq!(allowed, ["x-checksum", "grpc-status", "set-cookie"]);
    // Not chunked: no Trailer field.
    let (text, _, _) = encode(&resp, Size::Exact(2), &accepts);
    assert!(!text.contains("trailer"), "{text}");

    let mut fields = HeaderMap::new();
    fields.insert("x-checksum", HeaderValue::from_static("abc"));
    fields.insert("x-undeclared", HeaderValue::from_static("no"));
    fields.insert("set-cookie", HeaderValue::from_static("sid=evil"));
    fields.insert(CONTENT_LENGTH, HeaderValue::from_static("1"));
    let mut out = Vec::new();
    encode_chunked_end(Some(&fields), Some(&allowed), &mut out);
    // Undeclared fields, and fields no trailer may carry, are left out.
    assert_eq!(out, b"0\r\nx-checksum: abc\r\n\r\n");
    out.clear();
    encode_chunked_end(Some(&fields), None, &mut out);
    assert_eq!(out, b"0\r\n\r\n");
}

#[test]
fn chunk_sizes_are_hex() {
    for (len, line) in [
        (1usize, "1\r\n"),
        (15, "f\r\n"),
        (16, "10\r\n"),
        (65536, "10000\r\n"),
    ] {
        let mut out = Vec::new();
        encode_chunk_size(len, &mut out);
        assert_eq!(out, line.as_bytes());
    }
}

#[test]
fn an_upstream_head_is_written_from_its_fields_then_the_gateways() {
    let mut buf = BytesMut::from(
        "HTTP/1.1 200 OK\r\nServer: up\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
         Content-Length: 2\r\nConnection: keep-alive\r\nX-Request-Id: forged\r\n\r\nok",
    );
    let upstream =
        crate::transport::upstream::h1::parse_head(&mut buf, &Method::GET, &mut Vec::new())
            .expect("valid")
            .expect("complete");
    // The pipeline adds its fields to the upstream's `HeaderMap`.
    let mut resp = http::Response::new(());
    *resp.headers_mut() = upstream.headers;
    resp.headers_mut()
        .insert("x-request-id", http::HeaderValue::from_static("gw-1"));
    resp.headers_mut()
        .append("set-cookie", http::HeaderValue::from_static("s=1"));
    let encode = |size: Size, meta: &Meta| {
        let mut out = Vec::new();
        let mut keep_alive = meta.keep_alive;
        encode_head(&resp, size, meta, &mut keep_alive, &mut out);
        String::from_utf8(out).expect("ascii head")
    };
    assert_eq!(
        encode(Size::Exact(2), &H11),
        "HTTP/1.1 200 OK\r\nserver: up\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
         x-request-id: gw-1\r\nset-cookie: s=1\r\ncontent-length: 2\r\n\r\n",
        "one length (the framing's), one date (the upstream's), one request id (ours)"
    );
    // HEAD: the length GET would have is the upstream's own field.
    let head = Meta { head: true, ..H11 };
    let text = encode(Size::Empty, &head);
    assert_eq!(text.matches("ength: 2\r\n").count(), 1, "{text}");
    assert!(text.contains("content-length: 2\r\n"), "{text}");
}
