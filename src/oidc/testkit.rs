// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Test-only helpers shared by the token-validation unit tests: signing keys with their
//! JWK form, a raw JWS signer (so tests can craft hostile headers jsonwebtoken would
//! refuse to emit), and an in-process HTTP server on 127.0.0.1:0 with hit counters.
//! Never compiled outside `cfg(test)`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signing key and its public JWK.
pub enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A test key: signer + kid + alg.
pub struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    pub signer: Signer,
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

impl TestKey {
    pub fn rsa(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            alg: "RS256",
            signer: Signer::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap()),
        }
    }
    pub fn es256(kid: &str) -> TestKey {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        TestKey {
            kid: kid.into(),
            alg: "ES256",
            signer: Signer::Ec(EcdsaKeyPair::generate(alg).unwrap()),
        }
    }
    pub fn es384(kid: &str) -> TestKey {
        let alg = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        TestKey {
            kid: kid.into(),
            alg: "ES384",
            signer: Signer::Ec(EcdsaKeyPair::generate(alg).unwrap()),
        }
    }
    pub fn ed25519(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            alg: "EdDSA",
            signer: Signer::Ed(Ed25519KeyPair::generate().unwrap()),
        }
    }

    /// The public JWK (with kid, `use: sig`, no alg).
    pub fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(k) => {
                let p = k.public_key();
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                    "n": b64(p.modulus().big_endian_without_leading_zero()),
                    "e": b64(p.exponent().big_endian_without_leading_zero())})
            }
            Signer::Ec(k) => {
                let point = k.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if half == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": self.kid, "use": "sig", "crv": crv,
                    "x": b64(&point[1..=half]), "y": b64(&point[half + 1..])})
            }
            Signer::Ed(k) => json!({"kty": "OKP", "kid": self.kid, "use": "sig",
                "crv": "Ed25519", "x": b64(k.public_key().as_ref())}),
        }
    }

    /// Public key bytes (for the "HS256 keyed with the public key" attack).
    pub fn public_bytes(&self) -> Vec<u8> {
        match &self.signer {
            Signer::Rsa(k) => k.public_key().as_ref().to_vec(),
            Signer::Ec(k) => k.public_key().as_ref().to_vec(),
            Signer::Ed(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// Signs arbitrary header/claims JSON with this key (RSA padding follows the header's
    /// alg: PS* → PSS, else PKCS#1 v1.5 SHA-256).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let pss = header["alg"].as_str().is_some_and(|a| a.starts_with("PS"));
        self.sign_str(&header.to_string(), &claims.to_string(), pss)
    }

    /// Signs a literal header string (duplicate keys, odd spacing) and claims string.
    pub fn sign_str(&self, header: &str, claims: &str, pss: bool) -> String {
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = match &self.signer {
            Signer::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                let enc: &'static dyn signature::RsaEncoding = if pss {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                k.sign(enc, &SystemRandom::new(), msg.as_bytes(), &mut out)
                    .unwrap();
                out
            }
            Signer::Ec(k) => k
                .sign(&SystemRandom::new(), msg.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed(k) => k.sign(msg.as_bytes()).as_ref().to_vec(),
        };
        format!("{msg}.{}", b64(&sig))
    }

    /// A normal token: `{alg, kid, typ: JWT}` over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(
            &json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }
}

/// One RSA key per test binary: generating 2048-bit keys is slow.
pub fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("rsa-1"))
}

/// A second RSA key (rotation tests).
pub fn rsa_key2() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("rsa-2"))
}

/// HS256 over header/claims with an arbitrary secret.
pub fn sign_hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, msg.as_bytes());
    format!("{msg}.{}", b64(tag.as_ref()))
}

/// A JWKS document for the given keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// What a handler sees: path (no query), headers, body.
pub struct Seen {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

type BoxFut = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
type Handler = Arc<dyn Fn(Seen) -> BoxFut + Send + Sync>;

/// An in-process HTTP/1.1 server counting hits per path.
pub struct FakeServer {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Starts a server whose handler is an async closure.
    pub async fn start<F, Fut>(handler: F) -> FakeServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |seen| Box::pin(handler(seen)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let hits2 = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let hits = hits2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let handler = handler.clone();
                        let hits = hits.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let path = parts.uri.path().to_string();
                            *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                            let seen = Seen {
                                path,
                                headers: parts.headers,
                                body,
                            };
                            Ok::<_, std::convert::Infallible>(handler(seen).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeServer { addr, hits, task }
    }

    /// `http://127.0.0.1:port` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Hits on one path so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A JSON response.
pub fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A response with an explicit content type and extra header.
pub fn response(
    status: u16,
    ct: &str,
    extra: Option<(&str, &str)>,
    body: &str,
) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", ct);
    if let Some((k, v)) = extra {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}
