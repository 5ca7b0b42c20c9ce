//! The `RateLimit-Policy` value a limit announces (draft-ietf-httpapi-ratelimit-headers-11
//! §3); the refusal's fields themselves are `error::limited`'s.

use http::HeaderValue;

use super::gcra::Quota;
use crate::error::limited::sf_string;
pub use crate::error::limited::{Limited, RATELIMIT, RATELIMIT_POLICY};

/// The `RateLimit-Policy` value of one policy: `"<name>";q=<burst>;w=<seconds>`.
pub fn policy_field(name: &str, quota: &Quota) -> HeaderValue {
    let mut value = sf_string(name);
    value.push_str(&format!(";q={};w={}", quota.burst(), quota.window_secs()));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("\"limit\""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use http::header::RETRY_AFTER;
    use http::HeaderMap;

    use super::*;

    #[test]
    fn a_refusal_carries_the_draft_11_fields() {
        let q = Quota::new(100, Duration::from_secs(1), 200).unwrap();
        let limited = Limited::new(Arc::from("ip"), policy_field("ip", &q), 1);
        let mut h = HeaderMap::new();
        limited.write_fields(&mut h);
        assert_eq!(h[RETRY_AFTER], "1");
        assert_eq!(h[RATELIMIT_POLICY], "\"ip\";q=200;w=2");
        assert_eq!(h[RATELIMIT], "\"ip\";r=0;t=1");
        let q = Quota::new(1, Duration::from_secs(3600), 5).unwrap();
        let limited = Limited::new(
            Arc::from("header:x-api-key"),
            policy_field("header:x-api-key", &q),
            3600,
        );
        let mut h = HeaderMap::new();
        limited.write_fields(&mut h);
        assert_eq!(h[RATELIMIT_POLICY], "\"header:x-api-key\";q=5;w=18000");
        assert_eq!(h[RATELIMIT], "\"header:x-api-key\";r=0;t=3600");
        assert_eq!(h[RETRY_AFTER], "3600");
    }
}
