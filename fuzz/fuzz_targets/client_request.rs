//! Fuzzes the own HTTP/1 server's request parser with arbitrary client bytes, fed in
//! pieces of every size: no panic; a head left to hyper leaves the buffer exactly as it
//! was; a head the own server takes has no body framing (no `Content-Length`, no
//! `Transfer-Encoding`), no `Expect` or `Upgrade`, is not CONNECT, and what stays in
//! the buffer is exactly the bytes after it. Each request taken is answered by the
//! response encoder, whose head must be well-formed.
#![no_main]

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING, UPGRADE};
use http::{Method, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use portcullis::transport::h1::{encode_head, parse_request, Parsed, Size};

/// Small, so that heads over the limit are reached often.
const MAX_HEAD: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, wire)) = data.split_first() else {
        return;
    };
    let step = usize::from(flags >> 2).max(1);
    let mut buf = BytesMut::new();
    let mut spans = Vec::new();
    let mut fed = 0;
    loop {
        let before = buf.clone();
        match parse_request(&mut buf, &mut spans, MAX_HEAD) {
            Parsed::Handoff => {
                assert_eq!(buf, before, "a hand-off leaves the buffer as it was");
                return;
            }
            Parsed::Partial => {
                assert_eq!(buf, before, "a partial head stays in the buffer");
                if fed == wire.len() {
                    return;
                }
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            Parsed::Request(req, meta) => {
                assert!(before.ends_with(&buf), "the rest is what followed the head");
                assert!(buf.len() < before.len(), "a head was taken");
                assert!(before.len() - buf.len() <= MAX_HEAD, "a head over the limit");
                let h = req.headers();
                for name in [CONTENT_LENGTH, TRANSFER_ENCODING, EXPECT, UPGRADE] {
                    assert!(!h.contains_key(&name), "{name} on the own path");
                }
                assert_ne!(req.method(), Method::CONNECT);
                let status = StatusCode::from_u16(100 + u16::from(flags) * 2).unwrap_or_default();
                let mut resp = Response::new(());
                *resp.status_mut() = status;
                *resp.headers_mut() = req.headers().clone();
                let size = match flags & 3 {
                    0 => Size::Empty,
                    1 => Size::Exact(u64::from(flags)),
                    _ => Size::Unknown,
                };
                let mut out = Vec::new();
                let mut keep_alive = meta.keep_alive;
                encode_head(&resp, size, &meta, &mut keep_alive, &mut out);
                let mut slots = [httparse::EMPTY_HEADER; 256];
                let mut parsed = httparse::Response::new(&mut slots);
                let done = parsed.parse(&out).expect("a well-formed response head");
                assert!(matches!(done, httparse::Status::Complete(n) if n == out.len()));
            }
        }
    }
});
