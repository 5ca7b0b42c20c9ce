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

mod corpus;
use corpus::{generate, Rng};

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
