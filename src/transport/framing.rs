//! The request-framing rules hyper's HTTP/1 parser leaves to its user (RFC 9112 §6.1,
//! §6.3). hyper already refuses a malformed `Content-Length`, differing lengths, a
//! `Transfer-Encoding` in HTTP/1.0 and one whose last coding is not `chunked`; it frames
//! a request with both fields by `Transfer-Encoding` and closes the connection after it
//! (RFC 9112 §6.3 allows that instead of a 400). What it accepts and this module refuses:
//! a `Transfer-Encoding` other than exactly one `chunked` — `chunked` applied twice (in
//! one field or two), or any other coding before it — which no client sends and which
//! other servers on the path may read differently.
//!
//! A refused request is marked ([`MalformedFraming`]): the pipeline answers it 400 and
//! the transport closes the connection after the answer, so nothing after its head is
//! ever read as a request.

use http::header::TRANSFER_ENCODING;
use http::{HeaderMap, Version};

#[doc(hidden)]
pub mod harness;
#[doc(hidden)]
pub mod reference;
#[cfg(test)]
mod tests;

/// Marks a request whose framing fields are refused; the text says why (safe to log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedFraming(pub &'static str);

/// Why the framing fields of an HTTP/1 request head are refused, if they are.
pub fn check(version: Version, headers: &HeaderMap) -> Option<MalformedFraming> {
    if version != Version::HTTP_11 && version != Version::HTTP_10 {
        return None;
    }
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    let first = codings.next()?;
    if codings.next().is_some() {
        return Some(MalformedFraming("several Transfer-Encoding fields"));
    }
    if !first
        .as_bytes()
        .trim_ascii()
        .eq_ignore_ascii_case(b"chunked")
    {
        return Some(MalformedFraming(
            "a Transfer-Encoding other than chunked, applied once",
        ));
    }
    None
}
