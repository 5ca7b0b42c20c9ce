//! The fields of a rate-limit refusal (429): `Retry-After` (RFC 9110 §10.2.3, delay-seconds) and the
//! `RateLimit-Policy` / `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11
//! (May 2026), Structured Field Lists of Strings with parameters:
//!
//! ```text
//! RateLimit-Policy: "ip";q=100;w=2      q = burst, w = seconds a used-up bucket takes to refill
//! RateLimit: "ip";r=0;t=1              r = requests left, t = seconds until one fits again
//! Retry-After: 1                       the same moment as t (the draft: never earlier)
//! ```
//!
//! No partition key (`pk`) is sent: it would name the key the client was counted by.

use std::sync::Arc;

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue};

/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11 §4).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11 §3).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A request refused by one limit: what the 429 tells the client.
#[derive(Debug, Clone)]
pub struct Limited {
    policy: Arc<str>,
    policy_field: HeaderValue,
    retry_after: u64,
}

impl Limited {
    /// Refused by the policy `policy` (its pre-rendered `RateLimit-Policy` value
    /// `policy_field`); one request fits again in `retry_after` seconds (≥ 1).
    pub fn new(policy: Arc<str>, policy_field: HeaderValue, retry_after: u64) -> Limited {
        Limited {
            policy,
            policy_field,
            retry_after: retry_after.max(1),
        }
    }

    /// The policy's name (for logs).
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// Seconds until one request fits again.
    pub fn retry_after(&self) -> u64 {
        self.retry_after
    }

    /// Sets `Retry-After`, `RateLimit-Policy` and `RateLimit` on the refusal.
    pub fn write_fields(&self, headers: &mut HeaderMap) {
        headers.insert(RETRY_AFTER, HeaderValue::from(self.retry_after));
        headers.insert(RATELIMIT_POLICY, self.policy_field.clone());
        let mut value = sf_string(&self.policy);
        value.push_str(";r=0;t=");
        value.push_str(&self.retry_after.to_string());
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(RATELIMIT, v);
        }
    }
}

/// An sf-string (RFC 9651 §3.3.3): printable ASCII in quotes, `"` and `\` escaped;
/// anything else is dropped (names are generated from config tokens, so nothing is).
pub fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_never_zero() {
        let limited = Limited::new(Arc::from("ip"), HeaderValue::from_static("\"ip\""), 0);
        assert_eq!(limited.retry_after(), 1);
    }

    #[test]
    fn names_are_valid_sf_strings() {
        assert_eq!(sf_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(sf_string("é\n"), "\"\"");
    }
}
