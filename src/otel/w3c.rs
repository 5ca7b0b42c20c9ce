//! W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing the `traceparent`
//! and `tracestate` a peer sent, and formatting the `traceparent` the gateway sends on.
//!
//! Both fields are untrusted input: anything malformed (wrong length, upper-case or
//! non-hex digits, an all-zero id, version `ff`, several `traceparent` fields) is ignored
//! as if absent, never an error and never a panic. The caller decides whether a peer's
//! context is used at all (only trusted proxies' is).

use http::header::HeaderName;
use http::HeaderMap;

use super::ids::{hex_into, parse_hex, SpanId, TraceId};

/// `traceparent`
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate`
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The sampled bit of `trace-flags`.
pub const SAMPLED: u8 = 0x01;
/// Longest `tracestate` kept (§3.3.1.5: at least 512 characters must be propagated;
/// longer ones may be dropped whole).
const MAX_TRACESTATE: usize = 512;
/// Most list members a `tracestate` may have (§3.3.1.1).
const MAX_MEMBERS: usize = 32;
/// `00-` + 32 + `-` + 16 + `-` + 2.
pub const TRACEPARENT_LEN: usize = 55;

/// A parent context a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// The peer's span (the parent of the gateway's).
    pub span_id: SpanId,
    /// Whether the peer sampled it (its `trace-flags` sampled bit).
    pub sampled: bool,
}

/// The request's parent context: exactly one well-formed `traceparent`, else `None`.
pub fn parent(headers: &HeaderMap) -> Option<Parent> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => parse_traceparent(v.as_bytes()),
        _ => None,
    }
}

/// Parses `version-traceid-parentid-flags` (§3.2). Versions above `00` are read by
/// their first four fields, as §3.2.4 asks; `ff` is invalid.
pub fn parse_traceparent(v: &[u8]) -> Option<Parent> {
    let v = v.trim_ascii();
    if v.len() < TRACEPARENT_LEN {
        return None;
    }
    let mut version = [0u8; 1];
    if !parse_hex(&mut version, &v[..2]) || version[0] == 0xff {
        return None;
    }
    if version[0] == 0 && v.len() != TRACEPARENT_LEN {
        return None;
    }
    if v.len() > TRACEPARENT_LEN && v[TRACEPARENT_LEN] != b'-' {
        return None;
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut span_id = [0u8; 8];
    let mut flags = [0u8; 1];
    let ok = parse_hex(&mut trace_id, &v[3..35])
        && parse_hex(&mut span_id, &v[36..52])
        && parse_hex(&mut flags, &v[53..55]);
    if !ok || trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags[0] & SAMPLED != 0,
    })
}

/// The peer's `tracestate`, its fields joined with `,` (§3.3.1.1 allows splitting it
/// over several fields), when it is printable ASCII of at most 512 characters and 32
/// members; anything else is dropped whole rather than passed on half-checked.
pub fn tracestate(headers: &HeaderMap) -> Option<String> {
    let mut out = String::new();
    for v in headers.get_all(TRACESTATE) {
        let s = v.to_str().ok()?.trim_matches([' ', '\t']);
        if s.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(s);
        if out.len() > MAX_TRACESTATE {
            return None;
        }
    }
    let members = out.split(',').filter(|m| !m.trim().is_empty()).count();
    let printable = out.bytes().all(|b| (0x20..0x7f).contains(&b));
    (!out.is_empty() && members <= MAX_MEMBERS && printable && well_formed(&out)).then_some(out)
}

/// Every non-empty member is `key=value` with a key of the §3.3.1.3 alphabet and a value
/// without `,` or `=` (§3.3.1.3.2).
fn well_formed(state: &str) -> bool {
    state
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
        .all(|m| match m.split_once('=') {
            Some((key, value)) => {
                !key.is_empty()
                    && key.len() <= 256
                    && key.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
                    })
                    && !value.is_empty()
                    && value.len() <= 256
                    && !value.contains('=')
                    && !value.ends_with(' ')
            }
            None => false,
        })
}

/// `00-<trace>-<span>-<flags>`.
pub fn format_traceparent(trace_id: &TraceId, span_id: &SpanId, sampled: bool) -> [u8; 55] {
    let mut out = [0u8; TRACEPARENT_LEN];
    out[..3].copy_from_slice(b"00-");
    hex_into(&mut out[3..35], trace_id);
    out[35] = b'-';
    hex_into(&mut out[36..52], span_id);
    out[52] = b'-';
    out[53] = b'0';
    out[54] = if sampled { b'1' } else { b'0' };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(name: &HeaderName, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn a_valid_traceparent_parses_and_formats_back() {
        let p = parse_traceparent(GOOD.as_bytes()).expect("valid");
        assert!(p.sampled);
        assert_eq!(p.span_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        let back = format_traceparent(&p.trace_id, &p.span_id, true);
        assert_eq!(&back[..], GOOD.as_bytes());
        let unsampled = parse_traceparent(
            &GOOD.as_bytes()[..54]
                .iter()
                .chain(b"0")
                .copied()
                .collect::<Vec<_>>(),
        );
        assert_eq!(unsampled.map(|p| p.sampled), Some(false));
        // Other flag bits do not mean sampled.
        let other = GOOD.replace("-01", "-02");
        assert_eq!(
            parse_traceparent(other.as_bytes()).map(|p| p.sampled),
            Some(false)
        );
    }

    #[test]
    fn future_versions_are_read_by_their_first_fields() {
        let v = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(parse_traceparent(v.as_bytes()).is_some());
        let glued = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x";
        assert!(parse_traceparent(glued.as_bytes()).is_none());
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "",
            "00",
            "garbage",
            // Version 00 with extra fields, version ff, bad version digits.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Upper case, all-zero ids, wrong separators, short fields.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert!(parse_traceparent(bad.as_bytes()).is_none(), "{bad:?}");
        }
        // Bytes that are no text at all.
        assert!(parse_traceparent(&[0xff; 55]).is_none());
    }

    #[test]
    fn two_traceparent_fields_mean_none() {
        assert!(parent(&headers(&TRACEPARENT, &[GOOD])).is_some());
        assert!(parent(&headers(&TRACEPARENT, &[GOOD, GOOD])).is_none());
        assert!(parent(&HeaderMap::new()).is_none());
    }

    #[test]
    fn tracestate_is_joined_or_dropped_whole() {
        let h = headers(&TRACESTATE, &["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"]);
        assert_eq!(
            tracestate(&h).as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
        assert_eq!(
            tracestate(&headers(&TRACESTATE, &["a@b=1 , c/d=x"])).as_deref(),
            Some("a@b=1 , c/d=x")
        );
        let long = format!("k={}", "v".repeat(MAX_TRACESTATE));
        let many: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("k{i}=v")).collect();
        for bad in [
            long.as_str(),
            &many.join(","),
            "NoUpper=1",
            "novalue",
            "k=",
            "=v",
            "k=a=b",
        ] {
            assert!(
                tracestate(&headers(&TRACESTATE, &[bad])).is_none(),
                "{bad:?}"
            );
        }
        assert!(tracestate(&HeaderMap::new()).is_none());
        let mut h = HeaderMap::new();
        h.insert(
            TRACESTATE,
            HeaderValue::from_bytes(b"k=\xc3\xa9").expect("opaque"),
        );
        assert!(tracestate(&h).is_none());
    }
}
