//! Request fields whose names, read with `_` as `-`, are fields that frame the message,
//! manage the connection or carry what the gateway itself sets (`Transfer_Encoding`,
//! `Content_Length`, `X_Forwarded_For`…). Many upstream stacks (CGI, WSGI, PHP, Rails)
//! fold `_` and `-` into one: such a field would be taken for the real one there — a
//! body length the gateway never framed (a desynchronised pooled connection: request
//! smuggling) or a forged client address. They are removed, as nginx drops every
//! field with `_` in its name by default; other names with `_` pass untouched.
//! (Identity headers get the same treatment in `IdentityHeaderSet`.)

use http::{HeaderMap, HeaderName};

use super::hop_by_hop_index;

/// Names the gateway controls besides the hop-by-hop ones and the `X-Forwarded-*` family.
const CONTROLLED: &[&str] = &[
    "content-length",
    "host",
    "forwarded",
    "x-real-ip",
    "x-request-id",
];

/// Removes the look-alike fields (see the module docs).
pub fn strip_underscore_lookalikes(headers: &mut HeaderMap) {
    // Nothing to allocate unless a look-alike is there (rare).
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if name.as_str().contains('_') && is_lookalike(name.as_str()) {
            doomed.push(name.clone());
        }
    }
    for name in doomed {
        headers.remove(&name);
    }
}

/// Whether a (lower-case) name with `_` in it reads as a controlled one.
fn is_lookalike(name: &str) -> bool {
    // The forwarding family whatever its length (`x_forwarded_tls_client_cert_info`…).
    let family = b"x-forwarded-";
    if name.len() > family.len()
        && name
            .bytes()
            .zip(family)
            .all(|(n, f)| n == *f || (n == b'_' && *f == b'-'))
    {
        return true;
    }
    let mut folded = [0u8; 24];
    let Some(folded) = folded.get_mut(..name.len()) else {
        // Longer than any controlled name.
        return false;
    };
    for (to, from) in folded.iter_mut().zip(name.bytes()) {
        *to = if from == b'_' { b'-' } else { from };
    }
    let Ok(folded) = std::str::from_utf8(folded) else {
        return false;
    };
    hop_by_hop_index(folded.as_bytes()).is_some() || CONTROLLED.contains(&folded)
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::strip_underscore_lookalikes;

    #[test]
    fn framing_connection_and_forwarding_lookalikes_are_removed_others_pass() {
        let mut h = HeaderMap::new();
        for name in [
            "transfer_encoding",
            "content_length",
            "x_forwarded_for",
            "x-forwarded_proto",
            "x_forwarded_prefix",
            "x_forwarded_tls_client_cert_info",
            "x_forwarded_a_name_longer_than_any_buffer_the_check_might_use",
            "connection_",
            "upgrade",
            "te",
            "x_request_id",
            "keep_alive",
            "x_app_key",
            "content_length_hint",
            "accept",
        ] {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_static("v"),
            );
        }
        strip_underscore_lookalikes(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        // Real hop-by-hop names are `remove_hop_by_hop`'s; `connection_` is no name
        // anyone folds into `connection`.
        assert_eq!(
            left,
            [
                "accept",
                "connection_",
                "content_length_hint",
                "te",
                "upgrade",
                "x_app_key"
            ]
        );
    }
}
