//! Header names as the upstream stacks that turn them into variable names read them.
//! CGI (RFC 3875 §4.1.18), PHP, lighttpd, WSGI and Rails map a field name to `HTTP_` +
//! its letters upper-cased, each maps some of the other bytes to `_` (`-` everywhere;
//! lighttpd every non-alphanumeric byte; PHP also `.`, ` ` and `[` when it registers
//! the variable), so `X.Auth.User`, `X~Auth~User`, `x*auth*user` and `X_Auth_User`
//! all become `HTTP_X_AUTH_USER` somewhere. What is left that no stack can tell apart
//! is a name's *skeleton*: its ASCII letters and digits, lower-cased. Two names with the
//! same skeleton are treated as one name here, whatever the bytes between.
//!
//! Owns the skeleton comparison and the names the gateway controls besides identity
//! headers: the hop-by-hop ones, `Content-Length`, `Host`, `Forwarded`, `X-Real-IP`,
//! `X-Request-Id` and the `X-Forwarded-*` family. A look-alike of one of those (same
//! skeleton, other spelling) would be taken for the real one there: a body length the
//! gateway never framed (request smuggling on a pooled connection) or a forged client
//! address. Identity headers are stripped in every spelling by `IdentityHeaderSet`,
//! which uses the same comparison. Must never allocate for a name that matches nothing
//! (every request field passes through here).

/// The gateway-controlled names as `(skeleton, the one genuine spelling)`.
const CONTROLLED: [(&str, &str); 16] = [
    ("connection", "connection"),
    ("keepalive", "keep-alive"),
    ("proxyconnection", "proxy-connection"),
    ("proxyauthenticate", "proxy-authenticate"),
    ("proxyauthorization", "proxy-authorization"),
    ("te", "te"),
    ("trailer", "trailer"),
    ("transferencoding", "transfer-encoding"),
    ("upgrade", "upgrade"),
    ("expect", "expect"),
    ("http2settings", "http2-settings"),
    ("contentlength", "content-length"),
    ("host", "host"),
    ("forwarded", "forwarded"),
    ("xrealip", "x-real-ip"),
    ("xrequestid", "x-request-id"),
];

/// The skeleton every `X-Forwarded-*` name starts with.
const FAMILY: &[u8] = b"xforwarded";

/// Bit `n` set when a skeleton of length `n` (< 64) is in `skeletons`.
pub(super) const fn length_mask(skeletons: &[usize]) -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < skeletons.len() {
        if skeletons[i] < 64 {
            mask |= 1 << skeletons[i];
        }
        i += 1;
    }
    mask
}

/// The lengths of the controlled skeletons, as [`length_mask`] wants them.
const CONTROLLED_LENGTHS: [usize; 16] = {
    let mut out = [0usize; 16];
    let mut i = 0;
    while i < CONTROLLED.len() {
        out[i] = CONTROLLED[i].0.len();
        i += 1;
    }
    out
};

/// Which skeleton lengths [`CONTROLLED`] has: most names are passed on one bit test.
const CONTROLLED_MASK: u64 = length_mask(&CONTROLLED_LENGTHS);

/// Whether a skeleton length may be in a set with this [`length_mask`] (long ones always
/// may: the mask has no bit for them).
pub(super) fn may_hold(mask: u64, len: usize) -> bool {
    len >= 64 || mask & (1 << len) != 0
}

/// The length of `name`'s skeleton (its ASCII letters and digits).
pub(super) fn skeleton_len(name: &[u8]) -> usize {
    name.iter().filter(|b| b.is_ascii_alphanumeric()).count()
}

/// `name`'s skeleton (letters and digits, lower-case), for building a set at load time.
pub(super) fn skeleton(name: &[u8]) -> Box<[u8]> {
    name.iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect()
}

/// Whether `name`'s skeleton starts with `prefix` (a lower-case skeleton); equal when
/// `exact`. No allocation: the letters and digits of `name` are compared as they come.
fn skeleton_starts(name: &[u8], prefix: &[u8], exact: bool) -> bool {
    let mut want = prefix.iter();
    for b in name.iter().filter(|b| b.is_ascii_alphanumeric()) {
        match want.next() {
            Some(w) if *w == b.to_ascii_lowercase() => {}
            Some(_) => return false,
            None => return !exact,
        }
    }
    want.next().is_none()
}

/// Whether `name`'s skeleton is `skeleton` (lower-case letters and digits).
pub(super) fn skeleton_eq(name: &[u8], skeleton: &[u8]) -> bool {
    skeleton_starts(name, skeleton, true)
}

/// Whether `name` (lower-case, as `http` hands it over; its skeleton `len` long) reads
/// as a controlled name without being spelled as one. Real hop-by-hop fields are
/// `remove_hop_by_hop`'s and real `X-Forwarded-*` ones `set_forwarded`'s to judge.
pub(super) fn is_controlled_lookalike(name: &[u8], len: usize) -> bool {
    if len > FAMILY.len() && skeleton_starts(name, FAMILY, false) {
        return !is_family_name(name);
    }
    may_hold(CONTROLLED_MASK, len)
        && CONTROLLED.iter().any(|(skel, genuine)| {
            skel.len() == len && name != genuine.as_bytes() && skeleton_eq(name, skel.as_bytes())
        })
}

/// A real `X-Forwarded-*` name: the prefix, then dash-separated words.
fn is_family_name(name: &[u8]) -> bool {
    name.strip_prefix(b"x-forwarded-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeletons_ignore_every_byte_but_letters_and_digits() {
        for name in [
            "x-auth-user",
            "x_auth_user",
            "x.auth.user",
            "x~auth~user",
            "x*auth*user",
            "x!auth#user",
            "x|auth`user^",
            "xauthuser",
            "x--auth--user",
        ] {
            assert!(skeleton_eq(name.as_bytes(), b"xauthuser"), "{name}");
            assert_eq!(skeleton_len(name.as_bytes()), 9, "{name}");
        }
        assert!(skeleton_eq(b"X.Auth.User", b"xauthuser"));
        for other in ["x-auth-users", "x-auth-use", "x-auth-usr", "", "-"] {
            assert!(!skeleton_eq(other.as_bytes(), b"xauthuser"), "{other}");
        }
        assert_eq!(&*skeleton(b"X-Auth_User.2"), b"xauthuser2");
    }

    #[test]
    fn look_alikes_of_controlled_names_are_caught_the_names_themselves_are_not() {
        for name in [
            "transfer_encoding",
            "transfer.encoding",
            "transfer~encoding",
            "content_length",
            "content.length",
            "content*length",
            "contentlength",
            "x_forwarded_for",
            "x.forwarded.for",
            "x-forwarded_proto",
            "x~forwarded~prefix",
            "x_forwarded_tls_client_cert_info",
            "x_forwarded_a_name_longer_than_any_buffer_the_check_might_use",
            "x-forwarded-for.",
            "x-real_ip",
            "x.request.id",
            "keep_alive",
            "h.o.s.t",
            "for_warded",
            "http2_settings",
            // The skeleton of `X-Forwarded-Ness`.
            "x-forwardedness",
        ] {
            let n = name.as_bytes();
            assert!(is_controlled_lookalike(n, skeleton_len(n)), "{name}");
        }
        for name in [
            "content-length",
            "host",
            "x-forwarded-for",
            "x-forwarded-tls-client-cert-info",
            "x-request-id",
            "forwarded",
            "te",
            "upgrade",
            "accept",
            "x_app_key",
            "content_length_hint",
            "connection_x",
        ] {
            let n = name.as_bytes();
            assert!(!is_controlled_lookalike(n, skeleton_len(n)), "{name}");
        }
    }

    #[test]
    fn length_masks() {
        let mask = length_mask(&[2, 9, 70]);
        assert!(may_hold(mask, 2) && may_hold(mask, 9) && may_hold(mask, 70));
        assert!(!may_hold(mask, 3) && !may_hold(mask, 63));
    }
}
