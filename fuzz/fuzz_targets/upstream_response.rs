//! Fuzzes the own HTTP/1.1 client codec with arbitrary upstream bytes, fed in pieces of
//! every size: no panic, every field kept as sent is a valid `http` field, the body
//! never yields more bytes than were received, a Content-Length body ends exactly at its
//! length, and nothing is decoded past the end.
#![no_main]

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use portcullis::transport::upstream::h1::{parse_head, Body, Decoded};

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
    let mut buf = BytesMut::new();
    let mut spans = Vec::new();
    let mut fed = 0;
    let head = loop {
        match parse_head(&mut buf, &method, &mut spans) {
            Err(_) => return,
            Ok(Some(head)) => break head,
            Ok(None) if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            Ok(None) => return,
        }
    };
    // Every field kept as sent is one `http` takes: httparse and `http` agree on what a
    // field name and value may hold (the own server writes them without re-checking).
    let mut map = http::HeaderMap::new();
    assert_eq!(head.raw.append_to(&mut map), head.raw.len());
    let mut body = head.body;
    let announced = match body {
        Body::Length(n) => Some(n),
        _ => None,
    };
    let mut total = 0u64;
    loop {
        match body.decode(&mut buf) {
            Err(_) => return,
            Ok(Decoded::Data(d)) => {
                assert!(!d.is_empty());
                total += d.len() as u64;
                assert!(total <= wire.len() as u64);
            }
            Ok(Decoded::End | Decoded::Trailers(_)) => break,
            Ok(Decoded::More) if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            Ok(Decoded::More) => {
                if body.at_eof().is_err() {
                    return;
                }
            }
        }
    }
    if let Some(n) = announced {
        assert_eq!(total, n, "a Content-Length body ends at its length");
    }
    assert!(body.is_end());
});
