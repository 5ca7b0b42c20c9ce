//! A reference reading of a stream of HTTP/1.1 requests, written from RFC 9112 alone
//! (httparse for the head, the rest by hand), against which the gateway's framing
//! decisions are tested (`framing/tests.rs`) and fuzzed (`fuzz/fuzz_targets/
//! server_framing.rs`). Not used to serve requests.
//!
//! The policy it encodes, where RFC 9112 leaves a choice: `Transfer-Encoding` must be
//! exactly one field `chunked` (HTTP/1.1 only); with `Content-Length` too, the body is
//! chunked and the connection ends after it (§6.3: the transfer coding overrides the
//! length), where a `Content-Length` read before the `Transfer-Encoding` field must still
//! be valid (hyper checks fields in order; refusing is the stricter reading) and one
//! after it is ignored; several `Content-Length` fields must agree (RFC 9110 §8.6), each
//! one bare digits; chunk lines end in CRLF; chunk sizes fit in 64 bits.

/// What the reader makes of the next message in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A request, with its method, target and decoded body.
    Request {
        /// The method.
        method: String,
        /// The request target.
        target: String,
        /// The body, decoded.
        body: Vec<u8>,
    },
    /// Refused (a 400, then the connection closes).
    Refused,
    /// The stream ended within a message.
    Incomplete,
}

/// Reads `input` as the requests of one connection, up to the first refusal, the end
/// of a non-persistent connection, or the end of the input.
pub fn decide(input: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        match next(rest) {
            Step::Request(outcome, used, persistent) => {
                out.push(outcome);
                rest = &rest[used..];
                if !persistent {
                    break;
                }
            }
            Step::End(outcome) => {
                out.push(outcome);
                break;
            }
        }
    }
    out
}

enum Step {
    /// A complete request, the bytes it used, and whether the connection goes on.
    Request(Outcome, usize, bool),
    /// Refused or incomplete: the connection ends.
    End(Outcome),
}

/// Most header fields a request may have: hyper's server limit (its default, which the
/// listener keeps); past it the request is refused (431), as here.
const MAX_FIELDS: usize = 100;

fn next(input: &[u8]) -> Step {
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Step::End(Outcome::Incomplete),
        Err(_) => return Step::End(Outcome::Refused),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Step::End(Outcome::Refused);
    };
    let http11 = version == 1;
    let mut te: Vec<&[u8]> = Vec::new();
    let mut cl: Vec<&[u8]> = Vec::new();
    // Content-Length fields seen before the first Transfer-Encoding field.
    let mut cl_before_te = 0;
    let mut close = false;
    let mut keep_alive = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if te.is_empty() {
                cl_before_te = cl.len();
            }
            te.push(h.value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            cl.push(h.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let mut persistent = if http11 { !close } else { keep_alive && !close };
    let body = &input[head_len..];
    let checked_cl = if te.is_empty() {
        &cl[..]
    } else {
        &cl[..cl_before_te]
    };
    let mut len = None;
    for value in checked_cl {
        let Some(n) = digits(value.trim_ascii()) else {
            return Step::End(Outcome::Refused);
        };
        if len.is_some_and(|l| l != n) {
            return Step::End(Outcome::Refused);
        }
        len = Some(n);
    }
    let decoded = if !te.is_empty() {
        if !http11 || te.len() > 1 || !te[0].trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return Step::End(Outcome::Refused);
        }
        if !cl.is_empty() {
            persistent = false;
        }
        chunked(body)
    } else if let Some(len) = len {
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        if body.len() < n {
            Body::Incomplete
        } else {
            Body::Done(body[..n].to_vec(), n)
        }
    } else {
        Body::Done(Vec::new(), 0)
    };
    match decoded {
        Body::Done(bytes, used) => Step::Request(
            Outcome::Request {
                method: method.to_owned(),
                target: target.to_owned(),
                body: bytes,
            },
            head_len + used,
            persistent,
        ),
        Body::Incomplete => Step::End(Outcome::Incomplete),
        Body::Refused => Step::End(Outcome::Refused),
    }
}

enum Body {
    /// The decoded body and how many bytes of input it used.
    Done(Vec<u8>, usize),
    Incomplete,
    Refused,
}

/// `1*DIGIT` as a u64.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The chunked coding (RFC 9112 §7.1), trailers read and dropped.
fn chunked(input: &[u8]) -> Body {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&input[at..]) else {
            return if input[at..].contains(&b'\n') {
                Body::Refused
            } else {
                Body::Incomplete
            };
        };
        let line = &input[at..at + line_end];
        at += line_end + 2;
        let hex = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex == 0 {
            return Body::Refused;
        }
        let mut size: u64 = 0;
        for &d in &line[..hex] {
            let v = (d as char).to_digit(16).unwrap_or(0);
            let Some(s) = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(v)))
            else {
                return Body::Refused;
            };
            size = s;
        }
        let ext = line[hex..].trim_ascii_start();
        if !(ext.is_empty() || ext[0] == b';') || line.iter().any(|&b| b < 0x20 && b != b'\t') {
            return Body::Refused;
        }
        if size == 0 {
            // Trailer section: field lines up to an empty line.
            loop {
                let Some(end) = find_crlf(&input[at..]) else {
                    return if input[at..].contains(&b'\n') {
                        Body::Refused
                    } else {
                        Body::Incomplete
                    };
                };
                let field = &input[at..at + end];
                at += end + 2;
                if field.is_empty() {
                    return Body::Done(body, at);
                }
                if !field.contains(&b':') || field[0] == b' ' || field[0] == b'\t' {
                    return Body::Refused;
                }
            }
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if input.len() - at < size.saturating_add(2) {
            let have = input.len() - at;
            // Data that is there but not followed by CRLF where it should be.
            if have > size && &input[at + size..] != b"\r" {
                return Body::Refused;
            }
            return Body::Incomplete;
        }
        body.extend_from_slice(&input[at..at + size]);
        at += size;
        if &input[at..at + 2] != b"\r\n" {
            return Body::Refused;
        }
        at += 2;
    }
}

/// Where the first CRLF starts; `None` without one (a bare LF is left to the caller).
fn find_crlf(s: &[u8]) -> Option<usize> {
    let lf = s.iter().position(|&b| b == b'\n')?;
    (lf > 0 && s[lf - 1] == b'\r').then(|| lf - 1)
}
