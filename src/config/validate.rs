//! Raw config → validated [`Config`]: the server, admin and log sections, and the
//! orchestration of the section validators (session: `validate_session.rs`).
//!
//! Collects ALL problems in one pass as `path: message` (never stopping at the first), and
//! never puts a secret value into a message. Placeholders stand in for bad values so the
//! pass can continue; the result is only returned when no issue was found.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Uri;

use super::checks;
use super::duration::parse_duration;
use super::issues::{index_path, Issues};
use super::model::{
    AdminConfig, Config, EscapedSlashes, LogConfig, LogFormat, ServerConfig, ServerLimits,
    ServerTimeouts, TlsFiles,
};
use super::raw::{RawAdmin, RawConfig, RawLog, RawServer};
use super::{
    validate_assertion, validate_credentials, validate_machine, validate_provider,
    validate_rate_limit, validate_route, validate_session, validate_tracing,
};

/// Bounds of `server.limits.max_header_bytes`; below 1 KiB ordinary browsers fail.
const MIN_HEADER_BYTES: u64 = 1024;
const MAX_HEADER_BYTES: u64 = 1024 * 1024;

/// What every validator writes into.
pub(crate) struct Ctx<'a> {
    pub issues: &'a mut Issues,
    /// Directory relative file paths are resolved against (the config file's).
    pub base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    pub(crate) fn push(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(path, message);
    }

    /// Parses a duration; `nonzero` rejects `0s` where zero would disable the feature.
    pub(crate) fn duration(&mut self, path: &str, s: &str, nonzero: bool) -> Duration {
        match parse_duration(s) {
            Ok(d) if nonzero && d.is_zero() => {
                self.push(path, "must be greater than zero");
                d
            }
            Ok(d) => d,
            Err(msg) => {
                self.push(path, msg);
                Duration::ZERO
            }
        }
    }

    /// Resolves an optional file path and checks it is readable.
    pub(crate) fn file(&mut self, path: &str, s: Option<&str>) -> Option<PathBuf> {
        let s = s?;
        match checks::readable_file(s, self.base_dir) {
            Ok(p) => Some(p),
            Err(msg) => {
                self.push(path, msg);
                Some(PathBuf::from(s))
            }
        }
    }
}

/// Validates everything; `None` when any issue was recorded (they are in `issues`).
pub(crate) fn validate(
    raw: RawConfig,
    base_dir: Option<&Path>,
    issues: &mut Issues,
) -> Option<Config> {
    let mut cx = Ctx { issues, base_dir };
    let server = server(&mut cx, raw.server);
    let admin = admin(&mut cx, raw.admin, server.listen);
    let log = log(&mut cx, raw.log);
    let providers = validate_provider::providers(&mut cx, raw.providers);
    let routes = validate_route::routes(&mut cx, raw.routes, &providers, &server.proxy_prefix);
    validate_credentials::login_credentials(&mut cx, &providers, &routes);
    validate_assertion::needs_public_url(&mut cx, &server, &routes);
    let signing = validate_assertion::signing(&mut cx, raw.signing_keys, raw.signing_key_overlap);
    super::validate_chooser::distinct_domains(&mut cx, &providers, &routes);
    let session = validate_session::session(&mut cx, raw.session, &routes);
    let rate_limit_store = validate_rate_limit::store(
        &mut cx,
        raw.rate_limit_store.as_deref(),
        session.redis_url.is_some(),
    );
    validate_rate_limit::check_identity_collisions(&mut cx, &routes);
    let tracing = raw.tracing.map(|t| validate_tracing::tracing(&mut cx, t));
    let api_keys = validate_machine::api_keys(&mut cx, raw.api_keys, raw.api_key_header);
    validate_machine::routes(&mut cx, &routes, &server, &api_keys);
    let config = Config {
        server,
        admin,
        log,
        providers,
        session,
        routes,
        rate_limit_store,
        signing,
        tracing,
        api_keys,
    };
    cx.issues.is_empty().then_some(config)
}

fn server(cx: &mut Ctx<'_>, raw: RawServer) -> ServerConfig {
    let listen = socket_addr(cx, "server.listen", &raw.listen);
    let public_url = raw
        .public_url
        .as_deref()
        .and_then(|s| public_url(cx, "server.public_url", s));
    let tls = raw.tls.and_then(|tls| {
        let cert = cx.file("server.tls.cert_file", tls.cert_file.as_deref());
        let key = cx.file("server.tls.key_file", tls.key_file.as_deref());
        match (cert, key) {
            (Some(cert_file), Some(key_file)) => Some(TlsFiles {
                cert_file,
                key_file,
            }),
            (Some(_), None) => {
                cx.push("server.tls.key_file", "is required when cert_file is set");
                None
            }
            (None, Some(_)) => {
                cx.push("server.tls.cert_file", "is required when key_file is set");
                None
            }
            (None, None) => None,
        }
    });
    let mut trusted_proxies = Vec::new();
    for (i, s) in raw.trusted_proxies.iter().enumerate() {
        match super::Cidr::parse(s) {
            Ok(cidr) => trusted_proxies.push(cidr),
            Err(msg) => cx.push(&index_path("server.trusted_proxies", i), msg),
        }
    }
    let t = &raw.timeouts;
    let timeouts = ServerTimeouts {
        header_read: cx.duration("server.timeouts.header_read", &t.header_read, true),
        idle: cx.duration("server.timeouts.idle", &t.idle, true),
        shutdown_grace: cx.duration("server.timeouts.shutdown_grace", &t.shutdown_grace, false),
    };
    let max = raw.limits.max_header_bytes;
    if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&max) {
        cx.push(
            "server.limits.max_header_bytes",
            format!("must be between {MIN_HEADER_BYTES} and {MAX_HEADER_BYTES} (got {max})"),
        );
    }
    let limits = ServerLimits {
        max_header_bytes: usize::try_from(max).unwrap_or(usize::MAX),
    };
    let proxy_prefix = match checks::normalize_path(&raw.proxy_prefix) {
        Ok(p) if p == "/" => {
            cx.push(
                "server.proxy_prefix",
                "must not be `/` (the gateway's endpoints would shadow every route)",
            );
            p
        }
        Ok(p) => p.trim_end_matches('/').to_owned(),
        Err(msg) => {
            cx.push("server.proxy_prefix", msg);
            "/oauth2".to_owned()
        }
    };
    let escaped_slashes = match raw.escaped_slashes.trim() {
        "reject" => EscapedSlashes::Reject,
        "decode" => EscapedSlashes::Decode,
        "keep" => EscapedSlashes::Keep,
        other => {
            cx.push(
                "server.escaped_slashes",
                format!("`{other}` is not one of: reject, decode, keep"),
            );
            EscapedSlashes::Reject
        }
    };
    ServerConfig {
        listen,
        public_url,
        tls,
        trusted_proxies,
        timeouts,
        limits,
        proxy_prefix,
        escaped_slashes,
    }
}

fn socket_addr(cx: &mut Ctx<'_>, path: &str, s: &str) -> SocketAddr {
    match s.trim().parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            cx.push(
                path,
                format!("`{s}` is not an IP:port address (e.g. `0.0.0.0:8080` or `[::]:8080`)"),
            );
            SocketAddr::from(([0, 0, 0, 0], 0))
        }
    }
}

/// An origin: absolute http(s), no path, query or fragment; a trailing `/` is dropped.
fn public_url(cx: &mut Ctx<'_>, path: &str, s: &str) -> Option<Uri> {
    let url = match checks::parse_http_url(s.trim()) {
        Ok(url) => url,
        Err(msg) => {
            cx.push(path, msg);
            return None;
        }
    };
    if url.path != "/" || url.has_query {
        cx.push(
            path,
            "must be an origin (`https://host[:port]`) without path or query; the gateway's \
             own endpoints live under server.proxy_prefix",
        );
        return None;
    }
    let scheme = if url.https { "https" } else { "http" };
    match format!("{scheme}://{}", url.authority).parse::<Uri>() {
        Ok(uri) => Some(uri),
        Err(_) => {
            cx.push(path, "not an absolute http(s) URL");
            None
        }
    }
}

fn admin(cx: &mut Ctx<'_>, raw: RawAdmin, server_listen: SocketAddr) -> AdminConfig {
    let s = raw.listen.trim();
    if matches!(
        s.to_ascii_lowercase().as_str(),
        "" | "off" | "disabled" | "none"
    ) {
        return AdminConfig { listen: None };
    }
    let listen = socket_addr(cx, "admin.listen", s);
    let same_port = listen.port() != 0 && listen.port() == server_listen.port();
    let overlapping_ip = listen.ip() == server_listen.ip()
        || listen.ip().is_unspecified()
        || server_listen.ip().is_unspecified();
    if same_port && overlapping_ip {
        cx.push(
            "admin.listen",
            "must differ from server.listen: admin endpoints never share the public port",
        );
    }
    AdminConfig {
        listen: Some(listen),
    }
}

fn log(cx: &mut Ctx<'_>, raw: RawLog) -> LogConfig {
    let format = match raw.format.trim() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            cx.push(
                "log.format",
                format!("`{other}` is not one of: pretty, json"),
            );
            LogFormat::Pretty
        }
    };
    let level = raw.level.trim().to_owned();
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    // A lone word that is not a level would be read by EnvFilter as a *target* name and
    // silently log everything at trace for it; catch that typo here.
    let is_directive = level.contains(['=', ',', ':', '[']);
    if level.is_empty() {
        cx.push("log.level", "must not be empty (e.g. `info`)");
    } else if level.contains(|c: char| c.is_whitespace() || c.is_control()) {
        cx.push("log.level", "must not contain whitespace");
    } else if !is_directive && !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        cx.push(
            "log.level",
            format!(
                "`{level}` is not a level (trace, debug, info, warn, error, off) or a directive \
                 such as `portcullis=debug,info`"
            ),
        );
    }
    let access = match raw.access.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        other => {
            cx.push("log.access", format!("`{other}` is not one of: on, off"));
            true
        }
    };
    LogConfig {
        format,
        level,
        access,
    }
}
