//! Fuzzes the own HTTP/1.1 client codec with arbitrary upstream bytes, fed in pieces of
//! every size, and asserts its framing decision against the whole-buffer restatement of
//! RFC 9112 in `h1::reference`: refused or not, the status, the framing (length n,
//! chunked, until close, none), whether the connection may be reused, the fields kept,
//! the body bytes, the trailers, and where the body ended. Also: no panic, no empty data
//! frame, never more body bytes than were received.
#![no_main]

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use portcullis::transport::upstream::h1::reference::{
    decide_body, decide_head, BodyDecision, Framing, HeadDecision,
};
use portcullis::transport::upstream::h1::{parse_head, Body, Chunk, Decoded};

/// Fields with repeated names grouped at the name's first place, as a `HeaderMap`
/// keeps them.
fn grouped(mut fields: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in &fields {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    fields.sort_by_key(|(n, _)| names.iter().position(|m| m == n));
    fields
}

fn listed(map: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, wire)) = data.split_first() else {
        return;
    };
    let method = match flags & 3 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::CONNECT,
        _ => Method::DELETE,
    };
    let step = usize::from(flags >> 2).max(1);
    let expected = decide_head(wire, &method);
    let mut buf = BytesMut::new();
    let mut spans = Vec::new();
    let mut fed = 0;
    let head = loop {
        match parse_head(&mut buf, &method, &mut spans) {
            Err(_) => {
                assert_eq!(expected, HeadDecision::Refused, "the codec refused");
                return;
            }
            Ok(Some(head)) => break head,
            Ok(None) if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            Ok(None) => {
                assert_eq!(expected, HeadDecision::Incomplete, "the codec waits");
                return;
            }
        }
    };
    let HeadDecision::Final {
        body_at,
        status,
        framing,
        keep_alive,
        fields,
    } = expected
    else {
        panic!("the codec took a head the reference decides as {expected:?}");
    };
    assert_eq!(head.status.as_u16(), status);
    assert_eq!(head.keep_alive, keep_alive, "reuse");
    assert_eq!(listed(&head.headers), grouped(fields), "fields kept");
    let framed = match framing {
        Framing::NoBody | Framing::Tunnel => Body::Length(0),
        Framing::Length(n) => Body::Length(n),
        Framing::Chunked => Body::Chunked(Chunk::Size),
        Framing::Close => Body::Close,
    };
    assert_eq!(head.body, framed, "framing");

    let mut body = head.body;
    let (mut data, mut trailers) = (Vec::new(), Vec::new());
    let decided = loop {
        match body.decode(&mut buf) {
            Err(_) => break None,
            Ok(Decoded::Data(d)) => {
                assert!(!d.is_empty());
                data.extend_from_slice(&d);
                assert!(data.len() <= wire.len());
            }
            Ok(Decoded::Trailers(t)) => trailers = listed(&t),
            Ok(Decoded::End) => {}
            Ok(Decoded::More) if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
                continue;
            }
            Ok(Decoded::More) => {
                if body.at_eof().is_err() {
                    break None;
                }
                continue;
            }
        }
        if body.is_end() {
            break Some(wire.len() - fed + buf.len());
        }
    };
    match (decide_body(framing, &wire[body_at..]), decided) {
        (BodyDecision::Refused, None) => {}
        (
            BodyDecision::Done {
                data: want,
                trailers: want_trailers,
                used,
            },
            Some(left),
        ) => {
            assert_eq!(data, want, "body bytes");
            assert_eq!(trailers, grouped(want_trailers), "trailers");
            assert_eq!(left, wire.len() - body_at - used, "where the body ended");
        }
        (want, got) => panic!("body: reference {want:?}, codec ended with {got:?}"),
    }
});
