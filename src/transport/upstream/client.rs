//! The upstream client of one route: its pool (plain http, or https with the route's TLS
//! files) and the `Host` it sends. It only builds clients; forwarding logic lives in
//! `proxy/forward.rs`.

use http::HeaderValue;

use super::tls::Tls;
use super::{Pool, PoolMetrics};
use crate::config::RouteConfig;
use crate::transport::tls::TlsError;

/// What a route forwards with. Cheap to clone (every part is a shared handle).
#[derive(Clone)]
pub struct UpstreamClient {
    /// Every exchange with the upstream.
    pub pool: Pool,
    /// The upstream's authority as a `Host` value (sent unless `preserve_host`).
    pub host_header: HeaderValue,
}

/// Builds the client for `route` (TLS files are read now, so errors surface at
/// load/reload time instead of on the first request).
pub fn build(route: &RouteConfig, metrics: PoolMetrics) -> Result<UpstreamClient, TlsError> {
    let upstream = &route.upstream;
    let host = upstream.authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    // Files given for a plain-http upstream are checked all the same.
    let tls = if upstream.https || route.upstream_tls.is_some() {
        Some(Tls::new(route, host)?)
    } else {
        None
    };
    let pool = if upstream.h2c {
        Pool::prior_knowledge(&upstream.authority, route.timeouts.connect, metrics)
    } else {
        Pool::new(
            &upstream.authority,
            tls.filter(|_| upstream.https),
            route.timeouts.connect,
            metrics,
        )
    };
    let host_header = HeaderValue::from_str(upstream.authority.as_str())
        .map_err(|e| TlsError::Config(format!("upstream authority is not a Host value: {e}")))?;
    Ok(UpstreamClient { pool, host_header })
}

/// Whether a client built for `old` can serve `new` unchanged (keeps pools warm on reload).
pub fn reusable(old: &RouteConfig, new: &RouteConfig) -> bool {
    old.upstream.url == new.upstream.url
        && old.upstream_tls == new.upstream_tls
        && old.timeouts.connect == new.timeouts.connect
}
