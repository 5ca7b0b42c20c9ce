//! The upstream clients of one route: the own inline-driven HTTP/1.1 pool (`pool.rs`)
//! for plain-http upstreams, and hyper-util's keep-alive pool over plain TCP or rustls
//! (system roots, optional extra CA, optional client certificate) for https upstreams
//! and upgrades. It only builds clients; forwarding logic lives in `forward.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::transport::upstream::ReqBody;
use http::HeaderValue;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{H1Pool, PoolMetrics, POOL_IDLE};
use crate::config::RouteConfig;
use crate::transport::tls::{client_config, TlsError};
use crate::transport::workers;

/// hyper-util's client; request bodies stream from the listener.
pub type LegacyClient = Client<HttpsConnector<HttpConnector>, ReqBody>;

/// What a route forwards with. Cheap to clone (every part is a shared handle).
#[derive(Clone)]
pub struct UpstreamClient {
    /// https upstreams, and upgrade requests to any upstream: one client (and so one
    /// pool) per worker thread, since hyper-util drives each connection with a task on
    /// the thread that opened it (`transport::workers`).
    legacy: Arc<[LegacyClient]>,
    /// Plain-http upstreams (every request but upgrades); `None` for https.
    pub pool: Option<H1Pool>,
    /// The upstream's authority as a `Host` value (sent unless `preserve_host`).
    pub host_header: HeaderValue,
}

/// Builds the pooled client for `route` (TLS files are read now, so errors surface at
/// load/reload time instead of on the first request).
pub fn build(route: &RouteConfig, metrics: PoolMetrics) -> Result<UpstreamClient, TlsError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(route.timeouts.connect));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let tls = route.upstream_tls.as_ref();
    let cert = tls.and_then(|t| match (&t.cert_file, &t.key_file) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    });
    // ALPN (h2, http/1.1) is set by the connector builder below.
    let config = client_config(tls.and_then(|t| t.ca_file.as_deref()), cert)?;
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        // The gateway sets Host itself (preserve_host decides which one).
        .set_host(false);
    let legacy = (0..workers::shards())
        .map(|_| builder.build(connector.clone()))
        .collect();
    let pool = (!route.upstream.https)
        .then(|| H1Pool::new(&route.upstream.authority, route.timeouts.connect, metrics));
    let host_header = HeaderValue::from_str(route.upstream.authority.as_str())
        .map_err(|e| TlsError::Config(format!("upstream authority is not a Host value: {e}")))?;
    Ok(UpstreamClient {
        legacy,
        pool,
        host_header,
    })
}

impl UpstreamClient {
    /// hyper-util's client for this thread.
    pub fn legacy(&self) -> &LegacyClient {
        &self.legacy[workers::shard_index(self.legacy.len())]
    }
}

/// Whether a client built for `old` can serve `new` unchanged (keeps pools warm on reload).
pub fn reusable(old: &RouteConfig, new: &RouteConfig) -> bool {
    old.upstream.url == new.upstream.url
        && old.upstream_tls == new.upstream_tls
        && old.timeouts.connect == new.timeouts.connect
}
