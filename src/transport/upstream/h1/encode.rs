//! The request side of the codec: the head written upstream and the chunk framing of a
//! streamed body. The framing fields are the codec's own, never the client's: exactly
//! one of `Content-Length` (canonical decimal) or `Transfer-Encoding: chunked`, or none
//! for a request without a body, so no upstream with a laxer parser can read another
//! length into it (issue 19 item 5).

use http::header::{CONTENT_LENGTH, TRAILER, TRANSFER_ENCODING};

use crate::transport::upstream::Added;

/// The last chunk and the empty trailer section that end a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// How a request's body goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqFraming {
    /// No body. A request that carried a `Content-Length` keeps a zero one (servers that
    /// insist on a length for POST get it); others get no framing field.
    None,
    /// Exactly this many bytes, announced by `Content-Length`.
    Length(u64),
    /// Chunked: the length is unknown.
    Chunked,
}

impl ReqFraming {
    /// The framing of a body of `exact` length when known.
    pub fn of_body(exact: Option<u64>) -> ReqFraming {
        exact.map_or(ReqFraming::Chunked, ReqFraming::Length)
    }
}

/// Writes the head of a request: request line in origin form, every field (already
/// valid: `http` refuses CR, LF and NUL in names and values) but the framing ones and
/// `Trailer` (request trailers are never forwarded, so none is announced), then the
/// fields the gateway `added` (never framing ones), then the framing field of `framing`,
/// then the blank line.
pub fn encode_head(
    parts: &http::request::Parts,
    added: &Added,
    framing: ReqFraming,
    out: &mut Vec<u8>,
) {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut carried_length = false;
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH {
            carried_length = true;
            continue;
        }
        if name == TRANSFER_ENCODING || name == TRAILER {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in added.iter() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        ReqFraming::None if carried_length => out.extend_from_slice(b"content-length: 0\r\n"),
        ReqFraming::None => {}
        ReqFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            let mut digits = [0u8; 20];
            out.extend_from_slice(decimal(n, &mut digits));
            out.extend_from_slice(b"\r\n");
        }
        ReqFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, no leading zero, written at the end of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// Writes the size line of a chunk of `len` bytes (`len` > 0: a zero size ends the
/// body): lower-case hex without leading zeros, CRLF.
pub fn encode_chunk_size(len: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::{encode_head, Added, ReqFraming};

    #[test]
    fn a_request_head_is_written_in_origin_form_with_the_codecs_own_framing() {
        let req = http::Request::builder()
            .method("DELETE")
            .uri("/a/b?x=1")
            .header("host", "up:8080")
            .header("x-multi", "1")
            .header("x-multi", "2")
            .header("transfer-encoding", "chunked")
            .header("trailer", "x-sum")
            .body(())
            .expect("request");
        let parts = req.into_parts().0;
        let mut out = Vec::new();
        encode_head(&parts, &Added::default(), ReqFraming::None, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "DELETE /a/b?x=1 HTTP/1.1\r\nhost: up:8080\r\nx-multi: 1\r\nx-multi: 2\r\n\r\n",
            "no body, no framing field; no trailer announced (none is sent)"
        );
        // A bodiless request that carried a length keeps a canonical zero one.
        let mut req = http::Request::new(());
        req.headers_mut()
            .insert("content-length", http::HeaderValue::from_static("000"));
        let parts = req.into_parts().0;
        let mut out = Vec::new();
        encode_head(&parts, &Added::default(), ReqFraming::None, &mut out);
        assert_eq!(&out[..], b"GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[test]
    fn added_fields_follow_the_clients_and_precede_the_framing_field() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/a")
            .header("host", "up")
            .header("x-client", "1")
            .body(())
            .expect("request");
        let parts = req.into_parts().0;
        let mut added = Added::default();
        added.push(
            http::HeaderName::from_static("x-forwarded-for"),
            http::HeaderValue::from_static("192.0.2.1"),
        );
        added.push(
            http::HeaderName::from_static("x-auth-user"),
            http::HeaderValue::from_static("alice"),
        );
        let mut out = Vec::new();
        encode_head(&parts, &added, ReqFraming::Length(3), &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "POST /a HTTP/1.1\r\nhost: up\r\nx-client: 1\r\nx-forwarded-for: 192.0.2.1\r\n\
             x-auth-user: alice\r\ncontent-length: 3\r\n\r\n"
        );
    }

    #[test]
    fn a_request_body_is_framed_by_exactly_one_canonical_field() {
        // Whatever framing fields the request carried (leading zeros, both, twice).
        for carried in [
            &[("content-length", "0005")][..],
            &[("content-length", "5"), ("transfer-encoding", "chunked")],
            &[
                ("transfer-encoding", "gzip, chunked"),
                ("transfer-encoding", "chunked"),
            ],
            &[("content-length", "5"), ("content-length", "5")],
            &[],
        ] {
            for (exact, framing) in [
                (Some(5), "content-length: 5"),
                (Some(1234567890), "content-length: 1234567890"),
                (Some(0), "content-length: 0"),
                (None, "transfer-encoding: chunked"),
            ] {
                let mut req = http::Request::builder().method("POST").uri("/up");
                for (name, value) in carried {
                    req = req.header(*name, *value);
                }
                let parts = req.body(()).expect("request").into_parts().0;
                let mut out = Vec::new();
                encode_head(
                    &parts,
                    &Added::default(),
                    ReqFraming::of_body(exact),
                    &mut out,
                );
                let text = String::from_utf8(out).expect("ascii");
                let mut slots = [httparse::EMPTY_HEADER; 8];
                let mut parsed = httparse::Request::new(&mut slots);
                assert!(parsed.parse(text.as_bytes()).expect("valid").is_complete());
                let framing_fields: Vec<String> = parsed
                    .headers
                    .iter()
                    .filter(|h| {
                        h.name.eq_ignore_ascii_case("content-length")
                            || h.name.eq_ignore_ascii_case("transfer-encoding")
                    })
                    .map(|h| format!("{}: {}", h.name, String::from_utf8_lossy(h.value)))
                    .collect();
                assert_eq!(framing_fields, [framing], "{carried:?} {exact:?}: {text}");
            }
        }
    }
}
