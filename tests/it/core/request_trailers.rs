//! Request trailers are not forwarded. They arrive after the head the gateway cleaned, so
//! an identity header sent as a trailer (`x-auth-user: admin`) would reach an upstream
//! that merges trailers into the request's fields. hyper's HTTP/1 client drops trailers
//! the request did not declare, but its HTTP/2 client sends them all: the test goes to
//! an HTTP/2 (https, ALPN) upstream.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

use crate::support::client::raw;
use crate::support::TestGateway;

/// An HTTP/2-over-TLS upstream for `127.0.0.1` that reports the trailer names of every
/// request it gets. Returns its port, its certificate's PEM file and the reports.
async fn h2_upstream(
    dir: &std::path::Path,
) -> (
    u16,
    std::path::PathBuf,
    mpsc::UnboundedReceiver<Vec<String>>,
) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    let ca = dir.join("upstream.crt");
    std::fs::write(&ca, cert.pem()).expect("write cert");
    let key_der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key_der)
    .expect("server config");
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (seen, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let collected = req.into_body().collect().await?;
                        let names = collected
                            .trailers()
                            .map(|t| t.keys().map(|k| k.as_str().to_owned()).collect())
                            .unwrap_or_default();
                        let _ = seen.send(names);
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, ca, reports)
}

#[tokio::test]
async fn request_trailers_never_reach_the_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, ca, mut reports) = h2_upstream(dir.path()).await;
    let gw = TestGateway::start(&format!(
        "server:\n  listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: r\n    upstream: \"https://127.0.0.1:{port}\"\n    auth: none\n\
         \x20   upstream_tls: {{ ca_file: \"{}\" }}\n",
        ca.display()
    ))
    .await;
    let answer = raw(
        gw.running.addr,
        b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Trailer: x-auth-user, x-other\r\nConnection: close\r\n\r\n\
          2\r\nhi\r\n0\r\nx-auth-user: admin\r\nx-other: 1\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let names = reports.recv().await.expect("the upstream got the request");
    assert!(names.is_empty(), "trailers reached the upstream: {names:?}");
}
