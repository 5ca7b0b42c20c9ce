//! Decoding a response body's framing (RFC 9112 §6–7): a length, chunked transfer
//! coding (trailers passed on), or until the upstream closes. Strict where a lenient
//! reading could desynchronise a pooled connection; see the parent module.

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    HOST, MAX_FORWARDS, SET_COOKIE, TRAILER,
};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{ProtoError, MAX_CHUNK_LINE, MAX_TRAILERS, MAX_TRAILER_FIELDS};
use crate::transport::hop::{is_hop_by_hop, X_REQUEST_ID};

/// A response body's framing and how far it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// This many bytes left.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Until the upstream closes.
    Close,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// At the CRLF after a chunk's data.
    DataEnd,
    /// In the trailer section, this many bytes of it checked.
    Trailers(usize),
    /// Past the end.
    Done,
}

/// What [`Body::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// `buf` must be filled further.
    More,
    /// The body has ended.
    End,
    /// The body has ended with these trailer fields.
    Trailers(HeaderMap),
}

impl Body {
    /// Whether the body has ended (nothing more to read).
    pub fn is_end(&self) -> bool {
        matches!(self, Body::Length(0) | Body::Chunked(Chunk::Done))
    }

    /// Bytes left, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Body::Length(n) => Some(*n),
            Body::Chunked(Chunk::Done) => Some(0),
            _ => None,
        }
    }

    /// Takes the next piece of body out of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ProtoError> {
        loop {
            match self {
                Body::Length(0) | Body::Chunked(Chunk::Done) => return Ok(Decoded::End),
                Body::Length(n) | Body::Chunked(Chunk::Data(n)) => {
                    if buf.is_empty() {
                        return Ok(Decoded::More);
                    }
                    let take = usize::try_from(*n).map_or(buf.len(), |n| n.min(buf.len()));
                    *n -= take as u64;
                    if let Body::Chunked(c @ Chunk::Data(0)) = self {
                        *c = Chunk::DataEnd;
                    }
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
                }
                Body::Close => {
                    if buf.is_empty() {
                        return Ok(Decoded::More);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                Body::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Decoded::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ProtoError("chunk data longer than its size"));
                    }
                    buf.advance(2);
                    *self = Body::Chunked(Chunk::Size);
                }
                Body::Chunked(Chunk::Size) => {
                    let Some(line) = line(buf, MAX_CHUNK_LINE)? else {
                        return Ok(Decoded::More);
                    };
                    let size = chunk_size(&buf[..line])?;
                    buf.advance(line + 2);
                    *self = Body::Chunked(if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    });
                }
                Body::Chunked(Chunk::Trailers(scanned)) => {
                    // Complete lines are checked where they stand; the section is taken
                    // out whole once its empty line is in.
                    let Some(line) = line(&buf[*scanned..], MAX_TRAILERS - *scanned)? else {
                        return Ok(Decoded::More);
                    };
                    if line > 0 {
                        *scanned += line + 2;
                        continue;
                    }
                    let section = *scanned + 2;
                    let trailers = trailer_fields(&buf[..section])?;
                    buf.advance(section);
                    *self = Body::Chunked(Chunk::Done);
                    return Ok(trailers.map_or(Decoded::End, Decoded::Trailers));
                }
            }
        }
    }

    /// The upstream closed the connection: the end of a close-delimited body, an error
    /// for any other body not yet ended.
    pub fn at_eof(&mut self) -> Result<(), ProtoError> {
        match self {
            Body::Close => {
                *self = Body::Length(0);
                Ok(())
            }
            _ if self.is_end() => Ok(()),
            _ => Err(ProtoError(
                "the upstream closed the connection before the body ended",
            )),
        }
    }
}

/// The fields of a complete trailer section (its empty line included), without the
/// hop-by-hop ones and those that must not come in trailers ([`dropped_trailer`]);
/// `None` when none is left.
fn trailer_fields(section: &[u8]) -> Result<Option<HeaderMap>, ProtoError> {
    if section.len() == 2 {
        return Ok(None);
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    let Ok(httparse::Status::Complete((_, fields))) = httparse::parse_headers(section, &mut slots)
    else {
        return Err(ProtoError("malformed trailer section"));
    };
    let mut trailers = HeaderMap::new();
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ProtoError("malformed trailer section"))?;
        if dropped_trailer(&name) {
            continue;
        }
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| ProtoError("malformed trailer section"))?;
        trailers.append(name, value);
    }
    Ok((!trailers.is_empty()).then_some(trailers))
}

/// Whether a trailer field is left out: hop-by-hop ones, and those RFC 9110 §6.5.1 says
/// a recipient must not merge from trailers (framing, routing, authentication, content
/// description: hyper's list, which its server would drop anyway), `Set-Cookie` among
/// them (a cookie set after the head would pass the response phase unseen) and the
/// upstream's `X-Request-Id` (the gateway's is in the head).
pub fn dropped_trailer(name: &HeaderName) -> bool {
    is_hop_by_hop(name.as_str())
        || [
            AUTHORIZATION,
            CACHE_CONTROL,
            CONTENT_ENCODING,
            CONTENT_LENGTH,
            CONTENT_RANGE,
            CONTENT_TYPE,
            HOST,
            MAX_FORWARDS,
            SET_COOKIE,
            TRAILER,
        ]
        .contains(name)
        || name == X_REQUEST_ID
}

/// The length of the CRLF-terminated line at the start of `buf` (without its CRLF);
/// `None` until `buf` holds all of it. A bare LF, or no line end within `max` bytes, is
/// refused.
fn line(buf: &[u8], max: usize) -> Result<Option<usize>, ProtoError> {
    let window = &buf[..buf.len().min(max)];
    match memchr::memchr(b'\n', window) {
        Some(0) => Err(ProtoError("bare LF in chunked framing")),
        Some(lf) if window[lf - 1] == b'\r' => Ok(Some(lf - 1)),
        Some(_) => Err(ProtoError("bare LF in chunked framing")),
        None if buf.len() >= max => Err(ProtoError("chunk line too long")),
        None => Ok(None),
    }
}

/// `chunk-size [ BWS ";" chunk-ext ]` (RFC 9112 §7.1), without its CRLF: hex digits
/// (leading zeros allowed, the value at most `u64::MAX`); extensions are ignored but may
/// hold no control character but HTAB (a CR inside one is how chunk-extension smuggling
/// hides a second line).
fn chunk_size(line: &[u8]) -> Result<u64, ProtoError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let ext = rest.trim_ascii_start();
    if digits == 0
        || !(ext.is_empty() || ext[0] == b';')
        || rest.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(ProtoError("invalid chunk size"));
    }
    line[..digits].iter().try_fold(0u64, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        n.checked_mul(16)
            .map(|n| n | u64::from(v))
            .ok_or(ProtoError("invalid chunk size"))
    })
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
