//! Recognises an upstream's `Set-Cookie` that would set or delete one of the gateway's
//! cookies (cookie tossing, session fixation by any application behind the gateway).
//!
//! The gateway owns every cookie named `<cookie_name>` or `<cookie_name>_…` (the
//! session, its chunks, login attempts), judged as a browser would store it: with or
//! without the `__Host-` / `__Secure-` prefixes, in any case, around spaces and tabs.
//! A nameless cookie (`Set-Cookie: portcullis=x` has a name; `Set-Cookie: =portcullis=x`
//! and a value without `=` have none) is sent back by browsers as its bare value, so
//! `=portcullis=x` reaches the gateway as `portcullis=x`: its value is judged as a name
//! too.

/// Whether the `Set-Cookie` value `set_cookie` would set or delete one of the cookies
/// of the gateway whose session cookie is named `base`.
pub fn sets_own_cookie(base: &str, set_cookie: &[u8]) -> bool {
    let pair = match memchr::memchr(b';', set_cookie) {
        Some(end) => &set_cookie[..end],
        None => set_cookie,
    };
    let (name, value) = match memchr::memchr(b'=', pair) {
        Some(eq) => (&pair[..eq], &pair[eq + 1..]),
        // RFC 6265bis §5.6: no `=` means an empty name and the whole pair as value.
        None => (&b""[..], pair),
    };
    let name = trim(name);
    if !name.is_empty() {
        return owned_name(base, name);
    }
    // Nameless: the browser sends the value alone, which reads as `name=value`.
    let value = trim(value);
    let inner = match memchr::memchr(b'=', value) {
        Some(eq) => &value[..eq],
        None => value,
    };
    owned_name(base, trim(inner))
}

/// `name` is `base` or `base_…`, after an optional cookie prefix, ignoring ASCII case.
fn owned_name(base: &str, name: &[u8]) -> bool {
    let name = strip_prefix_ci(name, b"__host-")
        .or_else(|| strip_prefix_ci(name, b"__secure-"))
        .unwrap_or(name);
    match strip_prefix_ci(name, base.as_bytes()) {
        Some(rest) => rest.is_empty() || rest[0] == b'_',
        None => false,
    }
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::sets_own_cookie;

    #[test]
    fn the_gateways_cookies_in_every_spelling_are_recognised() {
        for v in [
            "portcullis=x",
            "portcullis=; Max-Age=0",
            "portcullis_1=x; Path=/",
            "portcullis_login_ab12=x",
            "__Host-portcullis=x; Secure; Path=/",
            "__host-PORTCULLIS_2=x",
            "__Secure-portcullis=x",
            "__SECURE-Portcullis_login_z=x",
            " \tportcullis =x",
            "=portcullis=forged",
            "= __Host-portcullis=forged",
            "portcullis",
            "portcullis; Path=/",
        ] {
            assert!(sets_own_cookie("portcullis", v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn application_cookies_pass() {
        for v in [
            "app=portcullis",
            "sid=x; Path=/portcullis",
            "portcullisx=1",
            "my_portcullis=1",
            "__Host-app=1",
            "=app=1",
            "",
            "=",
            "; portcullis=x",
        ] {
            assert!(!sets_own_cookie("portcullis", v.as_bytes()), "{v}");
        }
    }
}
