//! A tiny in-process identity provider for the load benchmark (`benches/load.sh`).
//!
//! Not a test double for correctness tests (those live in `tests/it/support`): it exists
//! so that the benchmark's bearer-JWT, cached-introspection and session routes have a
//! real OpenID provider to discover, fetch keys from and introspect against, all on
//! loopback, with no external service.
//!
//! ```text
//! cargo run --release --example bench_idp -- PORT OUTDIR
//! ```
//!
//! - Generates an RSA-2048 signing key (kid `bench-1`).
//! - Listens on `127.0.0.1:PORT` (HTTP/1.1) and serves
//!   - `/.well-known/openid-configuration` (`issuer` = `http://127.0.0.1:PORT`),
//!   - `/jwks` (the RSA public key),
//!   - `/introspect` (RFC 7662, HTTP Basic client authentication): `{"active": true, …}`
//!     for the reference token it wrote, `{"active": false}` for anything else,
//!   - `/bench/session-cookie`: a freshly minted session cookie (`name=value`), so the
//!     benchmark can hand wrk a cookie whose `last_seen_at` is recent (see below),
//!   - `/bench/redis-session-cookie` (only with a Redis URL, see below): the same session
//!     saved into Redis through the library's own `RedisStore` (`SaveKind::NewLogin`), as
//!     the login flow of a `session.store: redis` gateway does; answers the cookie
//!     (`name=value`, the sealed session id) from the returned `Set-Cookie`,
//!   - dummies for `/authorize`, `/token`, `/userinfo`.
//! - Writes to OUTDIR:
//!   - `jwt.txt`: an RS256 access token (iss, sub, aud `bench`, exp now+24h, iat, …),
//!   - `reference.txt`: an opaque reference token (43 base64url characters, no dots),
//!   - `session_cookie.txt`: a valid portcullis session cookie, `name=value` (chunks, if
//!     any, joined with `; `: ready for a `Cookie:` header), made with the library's own
//!     codec and keys, so its size is the real size of a typical session cookie,
//!   - `session_cookie_bytes.txt`: that size (bytes of the `Cookie` header value),
//!   - `redis_session_cookie.txt` (with a Redis URL): a Redis-store session cookie
//!     (`name=<sealed id>`), its session saved in Redis.
//! - Prints `READY port=… cookie_bytes=… jwt_bytes=…` on stdout, then serves until killed.
//!
//! Environment (all optional except the secret):
//! - `BENCH_SESSION_SECRET` (required, or a third argument): base64 of ≥ 32 bytes; the
//!   same value must be in the gateway's `session.secrets`.
//! - `BENCH_SESSION_PROVIDER` (default `bench`): provider name stored in the session; it
//!   must be the provider of the benchmark's `auth: session` route.
//! - `BENCH_COOKIE_NAME` (default `portcullis`): `session.cookie_name`. The gateway adds
//!   `__Host-` only over https; the benchmark is plain http, so the name is used as is.
//! - `BENCH_INTROSPECTION_CLIENT_ID` / `BENCH_INTROSPECTION_SECRET` (default
//!   `bench-api` / `bench-api-secret`): the Basic credentials `/introspect` requires.
//! - `BENCH_AUDIENCE` (default `bench`): the tokens' `aud`.
//! - `BENCH_REDIS_URL` (or a fourth argument): `redis://…` of the Redis the benchmark's
//!   `session.store: redis` gateway uses; enables `/bench/redis-session-cookie`.
//!
//! Session times: `created_at` = `last_seen_at` = now, `access_token_expires_at` = now +
//! 24h (no refresh is attempted). The gateway re-saves a session (one encryption and a
//! `Set-Cookie`) once its `last_seen_at` is older than a quarter of the idle timeout,
//! capped at 60 s; wrk ignores `Set-Cookie`, so the benchmark fetches a fresh cookie from
//! `/bench/session-cookie` before each session run, as a browser would hold one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use portcullis::auth::Claims;
use portcullis::config::Secret;
use portcullis::session::codec::{decode, encode, SessionData, SessionLimits};
use portcullis::session::cookie::{CookieNames, RequestCookies};
use portcullis::session::keys::SessionKeys;
use portcullis::session::redis::RedisStore;
use portcullis::session::SaveKind;
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const KID: &str = "bench-1";
const USER: &str = "bench-user";

/// Everything the handlers need.
struct Idp {
    issuer: String,
    audience: String,
    key: RsaKeyPair,
    rng: SystemRandom,
    reference: String,
    introspection_basic: (String, String),
    session_keys: SessionKeys,
    session_provider: String,
    cookie_name: String,
    /// The Redis session store, when a Redis URL was given.
    redis: Option<RedisStore>,
}

/// The gateway's default session limits (12 h lifetime, 1 h idle), as the benchmark's
/// configs leave them.
fn bench_limits() -> SessionLimits {
    SessionLimits {
        lifetime: Duration::from_secs(12 * 3600),
        idle_timeout: Duration::from_secs(3600),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Idp {
    fn random_token(&self, bytes: usize) -> Result<String, BoxError> {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf).map_err(|_| "rng failure")?;
        Ok(b64(&buf))
    }

    /// Compact JWS, RS256 (PKCS#1 v1.5, SHA-256), header `{alg, kid, typ}`.
    fn sign(&self, typ: &str, claims: &Value) -> Result<String, BoxError> {
        let header = json!({"alg": "RS256", "kid": KID, "typ": typ});
        let msg = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, msg.as_bytes(), &mut sig)
            .map_err(|_| "RSA signing failed")?;
        Ok(format!("{msg}.{}", b64(&sig)))
    }

    /// A typical API access token (~ what Keycloak/IdentityServer issue, minus bulk).
    fn access_token(&self, iat: u64) -> Result<String, BoxError> {
        self.sign(
            "at+jwt",
            &json!({
                "iss": self.issuer,
                "sub": USER,
                "aud": self.audience,
                "exp": iat + 24 * 3600,
                "iat": iat,
                "nbf": iat,
                "jti": self.random_token(16)?,
                "client_id": "bench-client",
                "scope": "openid profile email api.read",
                "preferred_username": "bench",
                "email": "bench@example.com",
                "groups": ["staff"],
            }),
        )
    }

    /// A typical ID token, as kept in the session for `id_token_hint` at logout.
    fn id_token(&self, iat: u64, sid: &str) -> Result<String, BoxError> {
        self.sign(
            "JWT",
            &json!({
                "iss": self.issuer,
                "sub": USER,
                "aud": "portcullis",
                "exp": iat + 3600,
                "iat": iat,
                "auth_time": iat,
                "nonce": self.random_token(24)?,
                "sid": sid,
                "at_hash": self.random_token(16)?,
                "preferred_username": "bench",
                "email": "bench@example.com",
                "email_verified": true,
                "name": "Bench User",
                "groups": ["staff"],
            }),
        )
    }

    /// A session as the login flow stores it: identity, the kept claims, ID/access/refresh
    /// tokens, `sid`; created and last seen now; the access token good for 24 h.
    fn session_data(&self, t: u64) -> Result<SessionData, BoxError> {
        let sid = self.random_token(16)?;
        let mut claims = Claims::new();
        claims.insert("sub".into(), json!(USER));
        claims.insert("preferred_username".into(), json!("bench"));
        claims.insert("email".into(), json!("bench@example.com"));
        claims.insert("groups".into(), json!(["staff"]));
        claims.insert("scope".into(), json!("openid profile email api.read"));
        let data = SessionData {
            subject: USER.into(),
            username: Some("bench".into()),
            email: Some("bench@example.com".into()),
            groups: vec!["staff".into()],
            claims,
            id_token: Some(self.id_token(t, &sid)?),
            access_token: Some(self.access_token(t)?),
            access_token_expires_at: Some(t + 24 * 3600),
            refresh_token: Some(self.random_token(48)?),
            provider: self.session_provider.clone(),
            sid: Some(sid),
            created_at: t,
            last_seen_at: t,
        };
        Ok(data)
    }

    /// A fresh session sealed into cookies by the cookie store's codec.
    fn session_cookie(&self) -> Result<String, BoxError> {
        let t = now();
        let data = self.session_data(t)?;
        let cookies = encode(&data, &self.cookie_name, &self.session_keys)?;
        let header = cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        // Self-check with the gateway's own reader (default limits: 12h lifetime, 1h idle).
        let limits = bench_limits();
        let back = decode(
            &RequestCookies::parse(&header),
            &self.cookie_name,
            &self.session_keys,
            t,
            &limits,
        );
        if back.as_ref() != Some(&data) {
            return Err("the session cookie does not decode back to the session".into());
        }
        Ok(header)
    }

    /// A fresh session saved into Redis as a new login; the cookie (`name=value`) that
    /// carries its sealed id, read back from Redis as a self-check.
    async fn redis_session_cookie(&self) -> Result<String, BoxError> {
        let store = self
            .redis
            .as_ref()
            .ok_or("bench_idp was started without a Redis URL")?;
        let t = now();
        let data = self.session_data(t)?;
        let set = store
            .save_now(&data, SaveKind::NewLogin, &RequestCookies::parse(""), t)
            .await?;
        let first = set.first().ok_or("RedisStore::save set no cookie")?;
        let pair = first
            .to_str()?
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let back = store.read_now(&RequestCookies::parse(&pair), t).await?;
        if back.into_live().as_ref() != Some(&data) {
            return Err("the Redis session does not load back".into());
        }
        Ok(pair)
    }

    fn discovery(&self) -> Value {
        let i = &self.issuer;
        json!({
            "issuer": i,
            "jwks_uri": format!("{i}/jwks"),
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "userinfo_endpoint": format!("{i}/userinfo"),
            "introspection_endpoint": format!("{i}/introspect"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
        })
    }

    fn jwks(&self) -> Value {
        let p = self.key.public_key();
        json!({"keys": [{
            "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
            "n": b64(p.modulus().big_endian_without_leading_zero()),
            "e": b64(p.exponent().big_endian_without_leading_zero()),
        }]})
    }

    fn basic_ok(&self, headers: &http::HeaderMap) -> bool {
        let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(b) = v
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("basic "))
            .map(|_| &v[6..])
        else {
            return false;
        };
        let Ok(raw) = STANDARD.decode(b.trim()) else {
            return false;
        };
        let Ok(s) = String::from_utf8(raw) else {
            return false;
        };
        let Some((id, secret)) = s.split_once(':') else {
            return false;
        };
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        form_decode(id) == self.introspection_basic.0
            && form_decode(secret) == self.introspection_basic.1
    }

    fn introspect(&self, headers: &http::HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
        if !self.basic_ok(headers) {
            return json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_client"}),
            );
        }
        let body = String::from_utf8_lossy(body);
        let token = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| form_decode(v));
        if token.as_deref() != Some(self.reference.as_str()) {
            return json_response(StatusCode::OK, &json!({"active": false}));
        }
        let t = now();
        json_response(
            StatusCode::OK,
            &json!({
                "active": true,
                "sub": USER,
                "iss": self.issuer,
                "aud": self.audience,
                "exp": t + 3600,
                "iat": t,
                "client_id": "bench-client",
                "scope": "openid profile email api.read",
                "preferred_username": "bench",
                "email": "bench@example.com",
                "token_type": "Bearer",
            }),
        )
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return text(StatusCode::BAD_REQUEST, "bad body\n"),
        };
        match (&parts.method, parts.uri.path()) {
            (&Method::GET, "/.well-known/openid-configuration") => {
                json_response(StatusCode::OK, &self.discovery())
            }
            (&Method::GET, "/jwks") => json_response(StatusCode::OK, &self.jwks()),
            (&Method::POST, "/introspect") => self.introspect(&parts.headers, &body),
            (&Method::GET, "/bench/session-cookie") => match self.session_cookie() {
                Ok(c) => text(StatusCode::OK, &c),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
            },
            (&Method::GET, "/bench/redis-session-cookie") => {
                match self.redis_session_cookie().await {
                    Ok(c) => text(StatusCode::OK, &c),
                    Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
                }
            }
            (_, "/token") => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_grant", "error_description": "bench_idp issues no tokens"}),
            ),
            (_, "/userinfo") => json_response(
                StatusCode::OK,
                &json!({"sub": USER, "preferred_username": "bench", "email": "bench@example.com"}),
            ),
            (_, "/authorize") => text(StatusCode::OK, "bench_idp: no interactive login\n"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }
}

/// `application/x-www-form-urlencoded` value decoding (`+` = space, `%XX`).
fn form_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_idp PORT OUTDIR [SESSION_SECRET_B64 [REDIS_URL]]\n\
         (or BENCH_SESSION_SECRET in the environment; see the top of examples/bench_idp.rs)"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        usage();
    }
    let port: u16 = args[0].parse().unwrap_or_else(|_| usage());
    let outdir = std::path::PathBuf::from(&args[1]);
    let secret = match args.get(2) {
        Some(s) => s.clone(),
        None => std::env::var("BENCH_SESSION_SECRET").unwrap_or_else(|_| usage()),
    };
    let redis_url = args
        .get(3)
        .cloned()
        .or_else(|| std::env::var("BENCH_REDIS_URL").ok())
        .filter(|u| !u.is_empty());
    std::fs::create_dir_all(&outdir)?;

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let port = listener.local_addr()?.port();
    let session_keys = SessionKeys::from_secrets(&[Secret::new(secret)])?;
    let rng = SystemRandom::new();
    let cookie_name = env_or("BENCH_COOKIE_NAME", "portcullis");
    let redis = match &redis_url {
        Some(url) => Some(RedisStore::new(
            url,
            CookieNames::new(&cookie_name, false),
            session_keys.clone(),
            bench_limits(),
        )?),
        None => None,
    };
    let mut reference = [0u8; 32];
    rng.fill(&mut reference).map_err(|_| "rng failure")?;
    let idp = Arc::new(Idp {
        issuer: format!("http://127.0.0.1:{port}"),
        audience: env_or("BENCH_AUDIENCE", "bench"),
        key: RsaKeyPair::generate(KeySize::Rsa2048)?,
        rng,
        reference: b64(&reference),
        introspection_basic: (
            env_or("BENCH_INTROSPECTION_CLIENT_ID", "bench-api"),
            env_or("BENCH_INTROSPECTION_SECRET", "bench-api-secret"),
        ),
        session_keys,
        session_provider: env_or("BENCH_SESSION_PROVIDER", "bench"),
        cookie_name,
        redis,
    });

    let jwt = idp.access_token(now())?;
    let cookie = idp.session_cookie()?;
    std::fs::write(outdir.join("jwt.txt"), format!("{jwt}\n"))?;
    std::fs::write(outdir.join("reference.txt"), format!("{}\n", idp.reference))?;
    std::fs::write(outdir.join("session_cookie.txt"), format!("{cookie}\n"))?;
    std::fs::write(
        outdir.join("session_cookie_bytes.txt"),
        format!("{}\n", cookie.len()),
    )?;
    let mut redis_bytes = 0;
    if idp.redis.is_some() {
        let c = idp.redis_session_cookie().await?;
        redis_bytes = c.len();
        std::fs::write(outdir.join("redis_session_cookie.txt"), format!("{c}\n"))?;
    }
    println!(
        "READY port={port} issuer={} cookie_bytes={} cookie_chunks={} jwt_bytes={} redis_cookie_bytes={redis_bytes}",
        idp.issuer,
        cookie.len(),
        cookie.split("; ").count(),
        jwt.len()
    );

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let idp = idp.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let idp = idp.clone();
                async move { Ok::<_, Infallible>(idp.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
