//! TLS termination config for the public listener (rustls, aws-lc-rs, ALPN h2 +
//! http/1.1). Builds configs only; the listener owns the handshakes.

use std::sync::Arc;

use rustls::ServerConfig;

use crate::config::TlsFiles;
use crate::transport::tls::{load_certs, load_key, provider, TlsError};

/// Reads the PEM files and builds the server config.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(&files.cert_file)?;
    let key = load_key(&files.key_file)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("{}: {e}", files.key_file.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
