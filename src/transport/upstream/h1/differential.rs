// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Differential test of the codec's framing decisions: for a generated corpus of
//! response streams (valid, ambiguous and hostile heads and bodies, cut anywhere), the
//! codec, fed in random pieces, decides as the whole-buffer restatement of RFC 9112 in
//! `reference.rs`: refused or not, the framing (length n, chunked, until close, none),
//! whether the connection may be reused, the fields kept, the body bytes, the trailers,
//! and where the body ended.

use bytes::BytesMut;
use http::Method;

use super::reference::{self, BodyDecision, Field, Framing, HeadDecision};
use super::{parse_head, Body, Chunk, Decoded};

/// A tiny xorshift generator: the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// What happened to one response stream, in terms both sides can state.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Incomplete,
    Refused,
    Final {
        status: u16,
        body: Body,
        keep_alive: bool,
        fields: Vec<Field>,
        result: BodyOutcome,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum BodyOutcome {
    Refused,
    Done {
        data: Vec<u8>,
        trailers: Vec<Field>,
        rest: Vec<u8>,
    },
}

/// Fields with repeated names grouped at the name's first place, as a `HeaderMap`
/// keeps them.
fn grouped(fields: Vec<Field>) -> Vec<Field> {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in &fields {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut fields = fields;
    fields.sort_by_key(|(n, _)| names.iter().position(|m| m == n));
    fields
}

fn listed(map: &http::HeaderMap) -> Vec<Field> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn by_reference(wire: &[u8], method: &Method) -> Outcome {
    let (body_at, status, framing, keep_alive, fields) = match reference::decide_head(wire, method)
    {
        HeadDecision::Incomplete => return Outcome::Incomplete,
        HeadDecision::Refused => return Outcome::Refused,
        HeadDecision::Final {
            body_at,
            status,
            framing,
            keep_alive,
            fields,
        } => (body_at, status, framing, keep_alive, fields),
    };
    let body = match framing {
        Framing::NoBody | Framing::Tunnel => Body::Length(0),
        Framing::Length(n) => Body::Length(n),
        Framing::Chunked => Body::Chunked(Chunk::Size),
        Framing::Close => Body::Close,
    };
    let result = match reference::decide_body(framing, &wire[body_at..]) {
        BodyDecision::Refused => BodyOutcome::Refused,
        BodyDecision::Done {
            data,
            trailers,
            used,
        } => BodyOutcome::Done {
            data,
            trailers: grouped(trailers),
            rest: wire[body_at + used..].to_vec(),
        },
    };
    Outcome::Final {
        status,
        body,
        keep_alive,
        fields: grouped(fields),
        result,
    }
}

fn by_codec(wire: &[u8], method: &Method, rng: &mut Rng) -> Outcome {
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut feed = |buf: &mut BytesMut, rng: &mut Rng| -> bool {
        if fed == wire.len() {
            return false;
        }
        let step = [1, 2, 7, 64, wire.len()][rng.below(5)];
        let next = (fed + step).min(wire.len());
        buf.extend_from_slice(&wire[fed..next]);
        fed = next;
        true
    };
    let mut spans = Vec::new();
    let head = loop {
        match parse_head(&mut buf, method, &mut spans) {
            Err(_) => return Outcome::Refused,
            Ok(Some(head)) => break head,
            Ok(None) => {
                if !feed(&mut buf, rng) {
                    return Outcome::Incomplete;
                }
            }
        }
    };
    let mut framing = head.body;
    let (mut data, mut trailers) = (Vec::new(), Vec::new());
    let result = loop {
        match framing.decode(&mut buf) {
            Err(_) => break BodyOutcome::Refused,
            Ok(Decoded::Data(d)) => {
                assert!(!d.is_empty(), "no empty data frames");
                data.extend_from_slice(&d);
            }
            Ok(Decoded::Trailers(t)) => {
                trailers = listed(&t);
                assert!(!trailers.is_empty(), "an empty trailer map is an end");
            }
            Ok(Decoded::End) => {}
            Ok(Decoded::More) => {
                if !feed(&mut buf, rng) && framing.at_eof().is_err() {
                    break BodyOutcome::Refused;
                }
                continue;
            }
        }
        if framing.is_end() {
            let mut rest = buf.to_vec();
            rest.extend_from_slice(&wire[fed..]);
            break BodyOutcome::Done {
                data,
                trailers,
                rest,
            };
        }
    };
    Outcome::Final {
        status: head.status.as_u16(),
        body: head.body,
        keep_alive: head.keep_alive,
        fields: listed(&head.headers),
        result,
    }
}

/// One generated response stream and the method of its request.
fn generate(rng: &mut Rng) -> (Vec<u8>, Method) {
    let method = [
        Method::GET,
        Method::GET,
        Method::GET,
        Method::POST,
        Method::HEAD,
        Method::CONNECT,
    ][rng.below(6)]
    .clone();
    let mut wire = Vec::new();
    if rng.chance(10) {
        wire.extend_from_slice(rng.pick(&[
            &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
            b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
            b"HTTP/1.1 100 Continue\n\n",
        ]));
    }
    let status: &[u8] = if rng.chance(80) {
        b"HTTP/1.1 200 OK"
    } else {
        rng.pick(&[
            &b"HTTP/1.0 200 OK"[..],
            b"HTTP/1.1 204 No Content",
            b"HTTP/1.1 304 Not Modified",
            b"HTTP/1.1 101 Switching Protocols",
            b"HTTP/1.1 404 Not Found",
            b"HTTP/1.1 200",
            b"HTTP/1.1 200 Fine Thanks",
            b"HTTP/1.1 099 Low",
            b"HTTP/1.2 200 OK",
            b"HTTP/1.1 999 Odd",
            b"http/1.1 200 OK",
        ])
    };
    wire.extend_from_slice(status);
    wire.extend_from_slice(b"\r\n");
    let content: Vec<u8> = (0..rng.below(40)).map(|i| b'a' + (i % 26) as u8).collect();
    let real_len = content.len().to_string();
    // 0: length, 1: chunked, 2: both, 3: neither.
    let shape = [0, 0, 0, 1, 1, 1, 1, 2, 3, 3][rng.below(10)];
    for _ in 0..rng.below(3) {
        field(&mut wire, rng);
    }
    if shape == 0 || shape == 2 {
        let value = if rng.chance(70) {
            real_len.as_bytes()
        } else {
            rng.pick(&[
                &b"0"[..],
                b"005",
                b"+5",
                b"-1",
                b"1,1",
                b"1 1",
                b"0x5",
                b"",
                b" 5 ",
                b"5\t",
                b"1234567890123456789",
                b"999999999999999999",
                b"18446744073709551616",
            ])
        };
        let name = rng.pick(&["Content-Length", "content-length", "CONTENT-LENGTH"]);
        line(&mut wire, rng, name.as_bytes(), value);
        if rng.chance(10) {
            line(&mut wire, rng, b"Content-Length", value);
        }
    }
    if shape == 1 || shape == 2 {
        let value = if rng.chance(75) {
            &b"chunked"[..]
        } else {
            rng.pick(&[
                &b"Chunked "[..],
                b"chunked, chunked",
                b"gzip, chunked",
                b"chunked, gzip",
                b"identity",
                b"",
                b"xchunked",
                b"chunked,",
                b",chunked",
                b"chunked;q=1",
            ])
        };
        let name = rng.pick(&[
            "Transfer-Encoding",
            "transfer-encoding",
            "TRANSFER-encoding",
        ]);
        line(&mut wire, rng, name.as_bytes(), value);
        if rng.chance(10) {
            line(&mut wire, rng, b"transfer-encoding", b"chunked");
        }
    }
    for _ in 0..rng.below(3) {
        field(&mut wire, rng);
    }
    wire.extend_from_slice(if rng.chance(99) { b"\r\n" } else { b"\n" });
    if shape == 1 || (shape == 2 && rng.chance(50)) {
        chunked(&mut wire, rng, &content);
    } else {
        wire.extend_from_slice(&content);
    }
    if rng.chance(20) {
        wire.extend_from_slice(b"NEXT");
    }
    if rng.chance(15) {
        let cut = rng.below(wire.len() + 1);
        wire.truncate(cut);
    }
    (wire, method)
}

/// A field line, `name: value` with a CRLF, now and then a bare LF or CR.
fn line(wire: &mut Vec<u8>, rng: &mut Rng, name: &[u8], value: &[u8]) {
    wire.extend_from_slice(name);
    wire.extend_from_slice(b": ");
    wire.extend_from_slice(value);
    wire.extend_from_slice(if rng.chance(99) {
        b"\r\n"
    } else {
        rng.pick(&[&b"\n"[..], b"\r"])
    });
}

/// An ordinary, hop-by-hop or (now and then) malformed field.
fn field(wire: &mut Vec<u8>, rng: &mut Rng) {
    let raw: &[u8] = if rng.chance(90) {
        rng.pick(&[
            &b"Server: up"[..],
            b"Set-Cookie: a=1",
            b"set-cookie: b=2",
            b"X-Empty:",
            b"Connection: close",
            b"Connection: keep-alive",
            b"Connection: Keep-Alive, close",
            b"Connection: x-drop",
            b"Connection: x-drop, Host",
            b"X-Drop: secret",
            b"Host: h",
            b"Keep-Alive: timeout=5",
            b"Trailer: grpc-status",
            b"X-Request-Id: forged",
            b"Upgrade: websocket",
            b"Date: Thu, 01 Jan 2026 00:00:00 GMT",
            b"X-Obs: caf\xe9",
            b"X-Tab: a\tb",
        ])
    } else {
        rng.pick(&[
            &b" folded"[..],
            b"\tfolded",
            b"bad header",
            b"Content-Length : 5",
            b"x-a: b\rc",
            b"x-del: a\x7fb",
            b": empty-name",
        ])
    };
    wire.extend_from_slice(raw);
    wire.extend_from_slice(b"\r\n");
}

/// `content` in chunked framing, now and then malformed.
fn chunked(wire: &mut Vec<u8>, rng: &mut Rng, content: &[u8]) {
    let mut at = 0;
    while at < content.len() {
        let size = (1 + rng.below(12)).min(content.len() - at);
        let hex = format!("{size:x}");
        let size_line: Vec<u8> = if rng.chance(85) {
            match rng.below(6) {
                0 => format!("{size:X}").into_bytes(),
                1 => format!("000{hex}").into_bytes(),
                2 => format!("{hex};name=value").into_bytes(),
                3 => format!("{hex} ;x=\"q\"").into_bytes(),
                4 => format!("{hex}\t").into_bytes(),
                _ => hex.into_bytes(),
            }
        } else {
            let hostile: &[u8] = rng.pick(&[
                &b"g"[..],
                b"-3",
                b"0x3",
                b"",
                b";x",
                b"3 x",
                b"3;a\rb",
                b"3;a\0b",
                b"10000000000000000",
                b"00000000000000000000003",
            ]);
            hostile.to_vec()
        };
        wire.extend_from_slice(&size_line);
        wire.extend_from_slice(if rng.chance(97) { b"\r\n" } else { b"\n" });
        wire.extend_from_slice(&content[at..at + size]);
        let end: &[u8] = if rng.chance(95) {
            b"\r\n"
        } else {
            rng.pick(&[&b"\n"[..], b"X\r\n", b""])
        };
        wire.extend_from_slice(end);
        at += size;
    }
    let last: &[u8] = rng.pick(&[&b"0"[..], b"0", b"000", b"0;ext=1"]);
    wire.extend_from_slice(last);
    wire.extend_from_slice(b"\r\n");
    for _ in 0..rng.below(3) {
        let trailer: &[u8] = rng.pick(&[
            &b"grpc-status: 0\r\n"[..],
            b"grpc-message: fine  \r\n",
            b"Set-Cookie: forged=1\r\n",
            b"content-length: 9\r\n",
            b"connection: x\r\n",
            b"x-sum: a\n",
            b" folded\r\n",
            b"no colon\r\n",
            b"x-sp : v\r\n",
            b"x-obs: caf\xe9\r\n",
            b"x-cr: a\rb\r\n",
        ]);
        wire.extend_from_slice(trailer);
    }
    if rng.chance(2) {
        for i in 0..33 {
            wire.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
    }
    wire.extend_from_slice(b"\r\n");
}

#[test]
fn the_codec_decides_framing_as_rfc_9112_does() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::HashMap::new();
    for case in 0..30_000 {
        let (wire, method) = generate(&mut rng);
        let expected = by_reference(&wire, &method);
        let got = by_codec(&wire, &method, &mut rng);
        assert_eq!(
            got,
            expected,
            "case {case}: {method} {:?}",
            String::from_utf8_lossy(&wire)
        );
        let class = match &expected {
            Outcome::Incomplete => "incomplete",
            Outcome::Refused => "refused head",
            Outcome::Final {
                result: BodyOutcome::Refused,
                ..
            } => "refused body",
            Outcome::Final {
                body: Body::Chunked(_),
                ..
            } => "chunked",
            Outcome::Final {
                body: Body::Length(0),
                ..
            } => "no body",
            Outcome::Final {
                body: Body::Length(_),
                ..
            } => "length",
            Outcome::Final {
                body: Body::Close, ..
            } => "close",
        };
        *seen.entry(class).or_insert(0) += 1;
    }
    // The corpus reaches every decision, often.
    for class in [
        "incomplete",
        "refused head",
        "refused body",
        "chunked",
        "no body",
        "length",
        "close",
    ] {
        assert!(
            seen.get(class).copied().unwrap_or(0) > 500,
            "{class}: {seen:?}"
        );
    }
}

#[test]
fn hand_picked_streams_decide_alike() {
    let trailers_forwarded = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\
        Trailer: grpc-status\r\n\r\n2\r\nok\r\n0\r\ngrpc-status: 0\r\n\r\n"
        .to_owned();
    let many_trailers: String = (0..33).map(|i| format!("x-{i}: v\r\n")).collect();
    let many_trailers =
        format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n{many_trailers}\r\n");
    let long_trailer = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx: {}\r\n\r\n",
        "t".repeat(20_000)
    );
    let long_line = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;{}\r\nx\r\n0\r\n\r\n",
        "e".repeat(4090)
    );
    let big_head = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n",
        "a".repeat(super::MAX_HEAD)
    );
    for wire in [
        trailers_forwarded,
        many_trailers,
        long_trailer,
        long_line,
        big_head,
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok".to_owned(),
        "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_owned(),
    ] {
        let mut rng = Rng(7);
        let expected = by_reference(wire.as_bytes(), &Method::GET);
        assert_eq!(
            by_codec(wire.as_bytes(), &Method::GET, &mut rng),
            expected,
            "{wire:.200}"
        );
    }
}
