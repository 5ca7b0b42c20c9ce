//! Fuzzes reading the gateway's cookies from arbitrary `Cookie` header bytes: parsing,
//! session decoding (whole and chunked), login-attempt lookup and stripping never panic;
//! garbage never decodes to a session; stripping leaves no own cookie behind.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis::session::cookie::is_own_cookie;
use portcullis::session::login::finish_login;
use portcullis::session::{
    decode, strip_own_cookies, CookieNames, RequestCookies, SessionKeys, SessionLimits,
};

const NOW: u64 = 1_700_000_000;

fn keys() -> Option<&'static SessionKeys> {
    static KEYS: OnceLock<Option<SessionKeys>> = OnceLock::new();
    KEYS.get_or_init(|| SessionKeys::from_bytes(&[[1u8; 32], [2u8; 32]]).ok())
        .as_ref()
}

/// Non-empty `;`-separated segments, trimmed of spaces and tabs, across all headers.
fn segments(headers: &HeaderMap) -> Vec<Vec<u8>> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .map(|s| s.trim_ascii_start())
        .map(|s| {
            let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(0, |i| i + 1);
            s[..end].to_vec()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some(keys) = keys() else {
        return;
    };
    let names = CookieNames::new("pc", data.first().is_some_and(|b| b & 1 == 1));
    let limits = SessionLimits {
        lifetime: Duration::from_secs(43_200),
        idle_timeout: Duration::from_secs(3_600),
    };
    // Several Cookie headers, as HTTP/2 sends them, split at newlines.
    let mut headers = HeaderMap::new();
    for part in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append(COOKIE, v);
        }
    }
    let cookies = RequestCookies::from_headers(&headers);
    // Nothing random can authenticate under the fixed keys.
    assert!(decode(&cookies, names.session(), keys, NOW, &limits).is_none());
    for (name, _) in cookies.iter() {
        if let Some(state) = name.rsplit('_').next() {
            assert!(finish_login(&cookies, &names, keys, state, NOW).is_none());
        }
    }
    let before = segments(&headers);
    strip_own_cookies(&mut headers, names.base());
    let after = RequestCookies::from_headers(&headers);
    assert!(after.iter().all(|(n, _)| !is_own_cookie(names.base(), n)));
    // What remains is the original segments, byte for byte and in order.
    let mut rest = before.iter();
    for kept in segments(&headers) {
        assert!(rest.any(|b| *b == kept), "segment altered or reordered");
    }
});
