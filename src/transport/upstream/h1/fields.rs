//! The end-to-end fields of an upstream response, kept as the upstream sent them: where
//! each name and value lies in the head's bytes. The own HTTP/1 server writes them to
//! the client from there (`transport::h1::encode_head`); only a response that goes out
//! through hyper (HTTP/2, requests with a body) has them turned into a `HeaderMap`
//! ([`RawFields::append_to`]). That spares each proxied response a name lookup, a value
//! copy check and a hash-table insert per field, and the table itself.
//!
//! Every name and value was checked by httparse, whose rules for field names (RFC 9110
//! tokens) and values (no control character but HTAB) are those of `http::HeaderName`
//! and `http::HeaderValue`; hyper's client relies on the same agreement. The codec's
//! fuzz target asserts it.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// What a kept field is to the writer of the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Written as it is.
    Plain,
    /// `Content-Length`: the writer frames the body itself and writes this one only for
    /// a HEAD response (the length GET would have).
    ContentLength,
    /// `Date`: the writer adds its own only when there is none.
    Date,
}

/// One kept field: name and value offsets into the head, and its kind.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
    kind: Kind,
}

/// The kept fields of a response head, in the order the upstream sent them.
#[derive(Debug, Clone)]
pub struct RawFields {
    head: Bytes,
    fields: Vec<Field>,
}

impl RawFields {
    /// An empty set over `head`, with room for `n` fields.
    pub(super) fn with_capacity(head: Bytes, n: usize) -> RawFields {
        RawFields {
            head,
            fields: Vec::with_capacity(n),
        }
    }

    /// Keeps the field whose name and value lie at these offsets of the head (false: they
    /// do not lie in it, and nothing is kept).
    pub(super) fn push(&mut self, name: (usize, usize), value: (usize, usize), kind: Kind) -> bool {
        let len = self.head.len();
        if !(name.0 < name.1 && name.1 <= len && value.0 <= value.1 && value.1 <= len) {
            return false;
        }
        let (Ok(ns), Ok(ne), Ok(vs), Ok(ve)) = (
            u32::try_from(name.0),
            u32::try_from(name.1),
            u32::try_from(value.0),
            u32::try_from(value.1),
        ) else {
            return false;
        };
        self.fields.push(Field {
            name: (ns, ne),
            value: (vs, ve),
            kind,
        });
        true
    }

    /// The fields: name (as sent: any case), value, kind.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], Kind)> + '_ {
        self.fields.iter().map(|f| {
            (
                self.bytes(f.name).unwrap_or_default(),
                self.bytes(f.value).unwrap_or_default(),
                f.kind,
            )
        })
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether a field of this kind is among them.
    pub fn has(&self, kind: Kind) -> bool {
        self.fields.iter().any(|f| f.kind == kind)
    }

    /// Appends every field to `headers` (names lower-cased, values sharing the head's
    /// bytes), for a response that leaves through hyper. Returns how many were appended:
    /// all of them (a field `http` refused would be left out, see the module doc).
    pub fn append_to(&self, headers: &mut HeaderMap) -> usize {
        headers.reserve(self.fields.len());
        let mut appended = 0;
        for f in &self.fields {
            let (Some(name), Some(value)) = (self.bytes(f.name), self.slice(f.value)) else {
                continue;
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_maybe_shared(value),
            ) else {
                continue;
            };
            headers.append(name, value);
            appended += 1;
        }
        appended
    }

    fn bytes(&self, (from, to): (u32, u32)) -> Option<&[u8]> {
        self.head.get(from as usize..to as usize)
    }

    fn slice(&self, (from, to): (u32, u32)) -> Option<Bytes> {
        let (from, to) = (from as usize, to as usize);
        (from <= to && to <= self.head.len()).then(|| self.head.slice(from..to))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use http::Method;

    use super::super::parse_head;
    use super::Kind;

    fn fields(raw: &str) -> super::super::Head {
        parse_head(&mut BytesMut::from(raw), &Method::GET, &mut Vec::new())
            .expect("valid")
            .expect("complete")
    }

    #[test]
    fn fields_are_kept_as_sent_in_order_without_hop_by_hop_ones_in_any_case() {
        let h = fields(
            "HTTP/1.1 200 OK\r\nServer: up\r\nCONNECTION: Keep-Alive\r\nX-Request-Id: forged\r\n\
             Set-Cookie: a=1\r\nKEEP-alive: timeout=5\r\nDate: Thu, 26 Nov 2026 06:00:00 GMT\r\n\
             Content-Length:   2  \r\nUpgrade: h2c\r\nset-cookie: b=2\r\nX-Empty:\r\n\r\nok",
        );
        assert!(h.headers.is_empty(), "nothing goes through a HeaderMap");
        let kept: Vec<(String, String, Kind)> = h
            .raw
            .iter()
            .map(|(n, v, k)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                    k,
                )
            })
            .collect();
        let expected = [
            ("Server", "up", Kind::Plain),
            ("Set-Cookie", "a=1", Kind::Plain),
            ("Date", "Thu, 26 Nov 2026 06:00:00 GMT", Kind::Date),
            ("Content-Length", "2", Kind::ContentLength),
            ("set-cookie", "b=2", Kind::Plain),
            ("X-Empty", "", Kind::Plain),
        ];
        let expected: Vec<(String, String, Kind)> = expected
            .iter()
            .map(|&(n, v, k)| (n.to_owned(), v.to_owned(), k))
            .collect();
        assert_eq!(kept, expected, "the upstream's X-Request-Id is not kept");
        assert!(h.raw.has(Kind::Date) && h.raw.has(Kind::ContentLength));
        assert!(h.keep_alive);

        // Leaving through hyper: the same fields in a HeaderMap, values intact.
        let mut map = http::HeaderMap::new();
        assert_eq!(h.raw.append_to(&mut map), 6);
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
        assert_eq!(map["content-length"], "2");
        assert_eq!(map["x-empty"], "");
        assert!(map.get("x-request-id").is_none());
    }

    #[test]
    fn a_connection_that_names_other_fields_puts_them_all_in_a_header_map() {
        let h = fields(
            "HTTP/1.1 200 OK\r\nX-Secret: 1\r\nconnection: X-Secret\r\nX-Kept: 2\r\n\
             X-Request-Id: forged\r\ncontent-length: 0\r\n\r\n",
        );
        assert!(h.raw.is_empty());
        let mut names: Vec<&str> = h.headers.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "x-kept"]);
    }
}
