//! TLS to an https upstream: rustls over the pooled TCP stream, with the client
//! configuration of `transport::tls` (system roots, optional extra CA, optional client
//! certificate), SNI and certificate check for the upstream's host, and ALPN offering
//! HTTP/2 and HTTP/1.1, or only HTTP/1.1 for a websocket upgrade (RFC 8441's extended
//! CONNECT is not spoken here).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::RouteConfig;
use crate::transport::tls::{client_config, TlsError};

/// The ALPN name of HTTP/2.
pub(super) const H2: &[u8] = b"h2";
/// The ALPN name of HTTP/1.1.
const HTTP11: &[u8] = b"http/1.1";

/// How one route's upstream is reached over TLS.
pub(super) struct Tls {
    /// Offers h2 and http/1.1.
    any: TlsConnector,
    /// Offers http/1.1 only (upgrades, and a request that must stay on HTTP/1.1).
    http11: TlsConnector,
    /// The upstream's host: SNI and the name its certificate must hold.
    name: ServerName<'static>,
}

impl Tls {
    /// The TLS set-up for `route`'s upstream `host` (TLS files are read now, so errors
    /// surface at load/reload time instead of on the first request).
    pub(super) fn new(route: &RouteConfig, host: &str) -> Result<Tls, TlsError> {
        let tls = route.upstream_tls.as_ref();
        let cert = tls.and_then(|t| match (&t.cert_file, &t.key_file) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        });
        let config = client_config(tls.and_then(|t| t.ca_file.as_deref()), cert)?;
        let mut any = config.clone();
        any.alpn_protocols = vec![H2.to_vec(), HTTP11.to_vec()];
        let mut http11 = config;
        http11.alpn_protocols = vec![HTTP11.to_vec()];
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| TlsError::Config(format!("upstream host is not a TLS name: {e}")))?;
        Ok(Tls {
            any: TlsConnector::from(Arc::new(any)),
            http11: TlsConnector::from(Arc::new(http11)),
            name,
        })
    }

    /// The handshake on `tcp` within `timeout`; `h2`: HTTP/2 may be chosen.
    pub(super) async fn connect(
        &self,
        tcp: TcpStream,
        h2: bool,
        timeout: Duration,
    ) -> io::Result<TlsStream<TcpStream>> {
        let connector = if h2 { &self.any } else { &self.http11 };
        tokio::time::timeout(timeout, connector.connect(self.name.clone(), tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}
