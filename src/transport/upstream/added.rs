//! The fields the gateway adds to a request for its upstream (`X-Forwarded-*`,
//! `X-Request-Id`, identity headers, the identity assertion, `traceparent`), kept beside
//! the request's `HeaderMap` instead of inserted into it. An insert hashes the name and,
//! once the map hyper sized for the client's fields is full, grows it (a rehash of every
//! field); the HTTP/1 codec writes these after the client's fields instead, and only an
//! HTTP/2 exchange moves them into the map (hyper's encoder reads nothing else).
//!
//! The contract with the pipeline: a name pushed here is absent from the request's map
//! (stripped by hygiene, or known absent), so the upstream never gets the client's value
//! beside the gateway's. Where a name may be present, the pipeline replaces it in the map.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Fields added by the gateway, in the order they are written after the client's.
#[derive(Debug, Default)]
pub struct Added {
    fields: Vec<(HeaderName, HeaderValue)>,
}

impl Added {
    /// Room for `n` fields (one allocation for the request's whole list).
    pub fn with_capacity(n: usize) -> Added {
        Added {
            fields: Vec::with_capacity(n),
        }
    }

    /// Adds a field whose name the request's map does not hold.
    pub fn push(&mut self, name: HeaderName, value: HeaderValue) {
        self.fields.push((name, value));
    }

    /// The first value added under `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.fields.iter().map(|(n, v)| (n, v))
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Moves every field into `headers` (appended: the names are absent there), leaving
    /// this list empty, so a request retried after it is never sent them twice.
    pub fn move_into(&mut self, headers: &mut HeaderMap) {
        for (name, value) in self.fields.drain(..) {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_move_into_a_map_once() {
        let mut added = Added::with_capacity(2);
        added.push(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("192.0.2.1"),
        );
        added.push(
            HeaderName::from_static("x-auth-user"),
            HeaderValue::from_static("alice"),
        );
        let names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-forwarded-for", "x-auth-user"]);
        assert_eq!(
            added.get(&HeaderName::from_static("x-auth-user")),
            Some(&HeaderValue::from_static("alice"))
        );
        let mut map = HeaderMap::new();
        map.insert("host", HeaderValue::from_static("up"));
        added.move_into(&mut map);
        assert!(added.is_empty(), "moved, not copied");
        added.move_into(&mut map);
        assert_eq!(map.len(), 3);
        assert_eq!(map.get_all("x-auth-user").iter().count(), 1);
    }
}
