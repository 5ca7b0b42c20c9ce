// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Response body framing: lengths, chunked coding (however it is split), trailers, and
//! the malformed chunk lines it must refuse.

use bytes::BytesMut;

use super::super::ProtoError;
use super::{Body, Chunk, Decoded};

/// Decodes `wire` fed `step` bytes at a time; the data, and what is left after the end
/// (in the buffer or not yet fed).
fn decode(mut body: Body, wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), ProtoError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        match body.decode(&mut buf)? {
            Decoded::Data(d) => {
                assert!(!d.is_empty(), "no empty frames");
                out.extend_from_slice(&d);
            }
            Decoded::End | Decoded::Trailers(_) => {
                buf.extend_from_slice(&wire[fed..]);
                return Ok((out, buf.to_vec()));
            }
            Decoded::More if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            Decoded::More => {
                body.at_eof()?;
            }
        }
    }
}

#[test]
fn chunked_bodies_decode_alike_however_they_are_split() {
    let wire =
        b"3\r\nabc\r\nA;name=\"v\" ;x\r\n0123456789\r\n1 \r\nz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
    for step in 1..wire.len() {
        let (data, rest) = decode(Body::Chunked(Chunk::Size), wire, step).expect("valid");
        assert_eq!(&data[..], b"abc0123456789z", "step {step}");
        assert_eq!(
            &rest[..],
            b"NEXT",
            "bytes after the end stay unread (step {step})"
        );
    }
}

#[test]
fn length_and_close_delimited_bodies() {
    for step in [1, 3, 100] {
        let (data, rest) = decode(Body::Length(5), b"helloEXTRA", step).expect("valid");
        assert_eq!(&data[..], b"hello");
        assert_eq!(&rest[..], b"EXTRA", "step {step}");
        let (data, _) = decode(Body::Close, b"until the end", step).expect("valid");
        assert_eq!(&data[..], b"until the end");
    }
    let cut = decode(Body::Length(10), b"short", 2);
    assert!(cut.is_err(), "EOF before the length is an error");
    let cut = decode(Body::Chunked(Chunk::Size), b"5\r\nabc", 2);
    assert!(cut.is_err(), "EOF inside a chunk is an error");
    let mut eof = Body::Close;
    assert_eq!(eof.at_eof(), Ok(()));
    assert!(eof.is_end());
}

#[test]
fn malformed_chunked_framing_is_refused() {
    let long_ext = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(5000));
    let long_trailer = format!("0\r\nx: {}\r\n\r\n", "t".repeat(20_000));
    for wire in [
        "3\nabc\r\n0\r\n\r\n",
        "3\r\nabc\n0\r\n\r\n",
        "3\r\nabcd\r\n0\r\n\r\n",
        "g\r\nabc\r\n0\r\n\r\n",
        "\r\nabc\r\n0\r\n\r\n",
        "-3\r\nabc\r\n0\r\n\r\n",
        "0x3\r\nabc\r\n0\r\n\r\n",
        "3 abc\r\nabc\r\n0\r\n\r\n",
        "3;a\rb\r\nabc\r\n0\r\n\r\n",
        "3;a\0b\r\nabc\r\n0\r\n\r\n",
        "10000000000000000\r\n",
        "0\r\nx: a\n\r\n",
        &long_ext,
        &long_trailer,
    ] {
        for step in [1, wire.len()] {
            let got = decode(Body::Chunked(Chunk::Size), wire.as_bytes(), step);
            assert!(got.is_err(), "accepted {wire:?} (step {step}): {got:?}");
        }
    }
    // Sixteen hex digits is the most a chunk size may have: taken without overflow.
    let mut body = Body::Chunked(Chunk::Size);
    let mut buf = BytesMut::from("ffffffffffffffff\r\n");
    assert_eq!(body.decode(&mut buf), Ok(Decoded::More));
    assert_eq!(body, Body::Chunked(Chunk::Data(u64::MAX)));
}

#[test]
fn trailer_fields_are_passed_on_without_framing_or_hop_by_hop_ones() {
    let mut body = Body::Chunked(Chunk::Size);
    let mut buf = BytesMut::from(
        "2\r\nok\r\n0\r\nx-checksum: abc\r\ncontent-length: 9\r\nconnection: x\r\nhost: h\r\n\r\nNEXT",
    );
    assert!(matches!(body.decode(&mut buf), Ok(Decoded::Data(_))));
    let Ok(Decoded::Trailers(trailers)) = body.decode(&mut buf) else {
        panic!("trailers expected");
    };
    let names: Vec<&str> = trailers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["x-checksum"]);
    assert_eq!(trailers["x-checksum"], "abc");
    assert!(body.is_end());
    assert_eq!(&buf[..], b"NEXT");
    // Only dropped fields: the body just ends.
    let mut body = Body::Chunked(Chunk::Size);
    let mut buf = BytesMut::from("0\r\ntransfer-encoding: chunked\r\n\r\n");
    assert_eq!(body.decode(&mut buf), Ok(Decoded::End));
}

#[test]
fn chunk_sizes_may_have_leading_zeros_but_not_overflow() {
    let (data, _) = decode(
        Body::Chunked(Chunk::Size),
        b"00000000000000000003\r\nabc\r\n0\r\n\r\n",
        7,
    )
    .expect("valid");
    assert_eq!(&data[..], b"abc");
    let over = decode(Body::Chunked(Chunk::Size), b"0010000000000000000\r\n", 100);
    assert!(over.is_err(), "2^64 does not fit");
}

#[test]
fn trailers_that_would_frame_route_or_set_cookies_are_dropped() {
    let mut body = Body::Chunked(Chunk::Size);
    let mut buf = BytesMut::from(
        "0\r\ngrpc-status: 0\r\nset-cookie: session=forged\r\ntrailer: x\r\n\
         x-request-id: forged\r\ncontent-type: x\r\nauthorization: y\r\n\r\n",
    );
    let Ok(Decoded::Trailers(trailers)) = body.decode(&mut buf) else {
        panic!("trailers expected");
    };
    let names: Vec<&str> = trailers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["grpc-status"]);
}
