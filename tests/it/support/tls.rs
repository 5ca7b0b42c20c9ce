//! A gateway terminating TLS with a freshly generated self-signed certificate, and
//! clients that trust it.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::TestGateway;

/// The gateway, its certificate (trusted by [`TlsGateway::connect`]) and the files.
pub struct TlsGateway {
    /// The running gateway (admin listener included).
    pub gw: TestGateway,
    cert: rustls_pki_types::CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

impl TlsGateway {
    /// Starts a gateway with TLS for `localhost` and the route items in `routes`
    /// (a YAML `routes:` block).
    pub async fn start(routes: &str) -> TlsGateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        let cert_path = dir.path().join("tls.crt");
        let key_path = dir.path().join("tls.key");
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        let yaml = format!(
            "server:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert_file: {}\n    key_file: {}\n\
             admin:\n  listen: \"127.0.0.1:0\"\n{routes}",
            cert_path.display(),
            key_path.display(),
        );
        TlsGateway {
            gw: TestGateway::start(&yaml).await,
            cert: cert.der().clone(),
            _dir: dir,
        }
    }

    /// A TLS connection to the gateway offering `alpn`.
    pub async fn connect(&self, alpn: &[u8]) -> TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("root");
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let tcp = TcpStream::connect(self.gw.running.addr).await.expect("tcp");
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        connector.connect(name, tcp).await.expect("tls handshake")
    }
}
