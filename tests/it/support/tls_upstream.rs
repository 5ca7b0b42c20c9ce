//! https upstreams for tests: a certificate for `127.0.0.1` made on the spot (the
//! gateway trusts it through `upstream_tls.ca_file`), the ALPN protocols it offers, and
//! optionally a client certificate it requires (mTLS), with the gateway's client
//! certificate and key issued by the CA it trusts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONNECTION, UPGRADE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the upstream does with each request.
#[derive(Clone, Copy)]
pub enum Serve {
    /// hyper's server (HTTP/1.1 or HTTP/2 as ALPN chose, upgrades echoed back): answers
    /// `"<version> <method> <path> <body length>"`.
    Hyper,
    /// [`Serve::Hyper`], but each connection closes gracefully (HTTP/2: GOAWAY) after
    /// its first answer.
    HyperOnce,
    /// After each request head (and its Content-Length body), these bytes.
    Raw(&'static [u8]),
}

/// A running https upstream.
pub struct TlsUpstream {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The certificate to trust (`upstream_tls.ca_file`).
    pub ca_file: PathBuf,
    /// With mTLS: a client certificate and key it accepts.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// TLS connections accepted.
    pub accepted: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl TlsUpstream {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// A route `r` to this upstream, with the client certificate when `with_cert`.
    pub fn route(&self, with_cert: bool) -> String {
        let cert = match (&self.client_cert, with_cert) {
            (Some((cert, key)), true) => format!(
                ", cert_file: \"{}\", key_file: \"{}\"",
                cert.display(),
                key.display()
            ),
            _ => String::new(),
        };
        format!(
            "routes:\n  - name: r\n    upstream: \"https://127.0.0.1:{}\"\n    auth: none\n\
             \x20   upstream_tls: {{ ca_file: \"{}\"{cert} }}\n",
            self.port,
            self.ca_file.display()
        )
    }
}

fn key_der(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::try_from(key.serialize_der()).expect("key der")
}

/// Starts an https upstream offering `alpn`; `mtls`: it requires a client certificate.
pub async fn tls_upstream(alpn: &[&[u8]], mtls: bool, serve: Serve) -> TlsUpstream {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let ca_file = dir.path().join("upstream.crt");
    std::fs::write(&ca_file, cert.pem()).expect("write cert");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let (builder, client_cert) = if mtls {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca cert");
        let client_key = rcgen::KeyPair::generate().expect("client key");
        let mut client = rcgen::CertificateParams::new(vec!["gateway".into()]).expect("client");
        client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client = client.signed_by(&client_key, &ca).expect("client cert");
        let (cert_path, key_path) = (dir.path().join("client.crt"), dir.path().join("client.key"));
        std::fs::write(&cert_path, client.pem()).expect("write client cert");
        std::fs::write(&key_path, client_key.serialize_pem()).expect("write client key");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.der().to_vec()))
            .expect("ca root");
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
        (
            builder.with_client_cert_verifier(verifier),
            Some((cert_path, key_path)),
        )
    } else {
        (builder.with_no_client_auth(), None)
    };
    let mut cfg = builder
        .with_single_cert(vec![cert.der().clone()], key_der(&key))
        .expect("server config");
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                match serve {
                    Serve::Hyper => {
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection_with_upgrades(
                                TokioIo::new(tls),
                                hyper::service::service_fn(answer),
                            )
                            .await;
                    }
                    Serve::HyperOnce => once(tls).await,
                    Serve::Raw(bytes) => raw(tls, bytes).await,
                }
            });
        }
    });
    TlsUpstream {
        port,
        ca_file,
        client_cert,
        accepted,
        _dir: dir,
    }
}

/// Serves one request on `tls`, then closes gracefully.
async fn once(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    let answered = Arc::new(tokio::sync::Notify::new());
    let done = answered.clone();
    let service = hyper::service::service_fn(move |req| {
        let done = done.clone();
        async move {
            let resp = answer(req).await;
            done.notify_one();
            resp
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = answered.notified() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

async fn answer(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if let Some(proto) = req.headers().get(UPGRADE).cloned() {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert(CONNECTION, http::HeaderValue::from_static("upgrade"));
        resp.headers_mut().insert(UPGRADE, proto);
        return Ok(resp);
    }
    let (version, method, path) = (
        req.version(),
        req.method().clone(),
        req.uri().path().to_owned(),
    );
    let body = req.into_body().collect().await?.to_bytes();
    let text = format!("{version:?} {method} {path} {}", body.len());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Answers each request head (and its Content-Length body) with `bytes`.
async fn raw<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, bytes: &[u8]) {
    let mut input = Vec::new();
    loop {
        while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end]).to_ascii_lowercase();
            let body: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if input.len() < end + 4 + body {
                break;
            }
            input.drain(..end + 4 + body);
            if s.write_all(bytes).await.is_err() {
                return;
            }
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(n) if n > 0 => input.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}
