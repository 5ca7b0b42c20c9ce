//! `GatewayError` and `respond()`: the ONLY place where a failure becomes a status code.
//!
//! Clients get a short generic body with the request id; the cause is logged once by the
//! access log. Nothing here may echo a token, cookie, secret or upstream error text.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use thiserror::Error;

use crate::auth::dpop::{DpopError, DPOP_NONCE};
use crate::auth::AuthError;

mod grpc;
pub mod limited;
pub use grpc::{GrpcCode, GrpcKind, GRPC_MESSAGE, GRPC_STATUS};
mod challenge;
use challenge::challenge;
#[cfg(test)]
use challenge::quoted_safe;

/// Every way a request can fail inside the gateway.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// No route matches the host + path.
    #[error("no route matches")]
    NotFound,
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request headers exceed `server.limits.max_header_bytes`.
    #[error("request headers too large")]
    HeadersTooLarge,
    /// The request path is longer than the gateway takes (414).
    #[error("request URI too long")]
    UriTooLong,
    /// A method the gateway never forwards (TRACE, TRACK, CONNECT: see
    /// `pipeline::hygiene::check_method`).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(&'static str),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Authenticated, but a required scope is missing (space-separated list).
    #[error("insufficient scope (needs {0})")]
    InsufficientScope(String),
    /// Authenticated, but the route's policy refuses (the rule is for logs).
    #[error("forbidden by policy: {0}")]
    Forbidden(&'static str),
    /// The upstream refused or reset the connection, or TLS to it failed.
    #[error("upstream connect failed: {0}")]
    UpstreamConnect(String),
    /// The upstream did not connect or answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The upstream answered with something that is not valid HTTP.
    #[error("upstream protocol error: {0}")]
    UpstreamProtocol(String),
    /// A dependency (identity provider, session store) is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected local failure.
    #[error("internal error: {0}")]
    Internal(String),
    /// No session on a browser navigation: send the browser to the login (302).
    #[error("login required")]
    LoginRequired(String),
    /// The provider answered the login with an error (e.g. `access_denied`).
    #[error("login refused by the identity provider")]
    LoginRefused,
    /// The login could not be completed (code refused, bad ID token…).
    #[error("login failed: {0}")]
    LoginFailed(&'static str),
    /// A feature the current configuration cannot serve (e.g. back-channel logout
    /// with the cookie session store, which keeps no server-side sessions to end).
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// A CORS preflight the route's `cors` does not allow (what was refused: `origin`,
    /// `method`, `headers`, `private_network`).
    #[error("CORS preflight refused: {0}")]
    CorsRefused(&'static str),
    /// A rate limit of the route refuses the request (429 with its fields).
    #[error("rate limited by policy {}", .0.policy())]
    RateLimited(Box<limited::Limited>),
}

impl GatewayError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::BadRequest(_) | GatewayError::Auth(AuthError::Malformed(_)) => {
                StatusCode::BAD_REQUEST
            }
            GatewayError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            GatewayError::UriTooLong => StatusCode::URI_TOO_LONG,
            GatewayError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Auth(AuthError::Missing | AuthError::InvalidToken(_)) => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::Auth(AuthError::Dpop(DpopError::Unavailable(_))) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            GatewayError::Auth(AuthError::Dpop(_)) => StatusCode::UNAUTHORIZED,
            GatewayError::Auth(AuthError::IdpUnavailable(_) | AuthError::IdpThrottled(_))
            | GatewayError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::InsufficientScope(_) | GatewayError::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            GatewayError::UpstreamConnect(_) | GatewayError::UpstreamProtocol(_) => {
                StatusCode::BAD_GATEWAY
            }
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::LoginRequired(_) => StatusCode::FOUND,
            GatewayError::LoginRefused | GatewayError::LoginFailed(_) => StatusCode::FORBIDDEN,
            GatewayError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            GatewayError::CorsRefused(_) => StatusCode::FORBIDDEN,
            GatewayError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// A stable machine-readable code for the body and logs.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::NotFound => "not_found",
            GatewayError::BadRequest(_) | GatewayError::Auth(AuthError::Malformed(_)) => {
                "invalid_request"
            }
            GatewayError::HeadersTooLarge => "headers_too_large",
            GatewayError::UriTooLong => "uri_too_long",
            GatewayError::MethodNotAllowed(_) => "method_not_allowed",
            GatewayError::Auth(AuthError::Missing) => "unauthorized",
            GatewayError::Auth(AuthError::InvalidToken(_)) => "invalid_token",
            GatewayError::Auth(AuthError::IdpUnavailable(_)) => "idp_unavailable",
            GatewayError::Auth(AuthError::IdpThrottled(_)) => "idp_throttled",
            GatewayError::Auth(AuthError::Dpop(DpopError::InvalidProof(_))) => "invalid_dpop_proof",
            GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce(_))) => "use_dpop_nonce",
            GatewayError::Auth(AuthError::Dpop(DpopError::Unavailable(_))) => "unavailable",
            GatewayError::InsufficientScope(_) => "insufficient_scope",
            GatewayError::Forbidden(_) => "forbidden",
            GatewayError::UpstreamConnect(_) | GatewayError::UpstreamProtocol(_) => "bad_gateway",
            GatewayError::UpstreamTimeout => "gateway_timeout",
            GatewayError::Unavailable(_) => "unavailable",
            GatewayError::Internal(_) => "internal_error",
            GatewayError::LoginRequired(_) => "login_required",
            GatewayError::LoginRefused => "access_denied",
            GatewayError::LoginFailed(_) => "login_failed",
            GatewayError::NotImplemented(_) => "not_implemented",
            GatewayError::CorsRefused(_) => "cors_refused",
            GatewayError::RateLimited(_) => "rate_limited",
        }
    }

    /// The metric label of an upstream failure, if this is one.
    pub fn upstream_kind(&self) -> Option<&'static str> {
        match self {
            GatewayError::UpstreamConnect(_) => Some("connect"),
            GatewayError::UpstreamTimeout => Some("timeout"),
            GatewayError::UpstreamProtocol(_) => Some("protocol"),
            _ => None,
        }
    }

    fn message(&self) -> &'static str {
        match self {
            GatewayError::NotFound => "No route matches this request.",
            GatewayError::BadRequest(_) | GatewayError::Auth(AuthError::Malformed(_)) => {
                "The request is malformed."
            }
            GatewayError::HeadersTooLarge => "The request headers are too large.",
            GatewayError::UriTooLong => "The request URI is too long.",
            GatewayError::MethodNotAllowed(_) => "This method is not allowed.",
            GatewayError::Auth(AuthError::Missing) => "Authentication is required.",
            GatewayError::Auth(AuthError::InvalidToken(_)) => {
                "The access token is invalid or expired."
            }
            GatewayError::Auth(AuthError::Dpop(DpopError::InvalidProof(_))) => {
                "The DPoP proof is invalid."
            }
            GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce(_))) => {
                "The DPoP proof must carry the server nonce in the DPoP-Nonce header."
            }
            GatewayError::InsufficientScope(_) => "The access token lacks a required scope.",
            GatewayError::Forbidden(_) => "Access to this resource is denied.",
            GatewayError::UpstreamConnect(_) | GatewayError::UpstreamProtocol(_) => {
                "The upstream service could not be reached."
            }
            GatewayError::UpstreamTimeout => "The upstream service did not answer in time.",
            GatewayError::Auth(
                AuthError::IdpUnavailable(_) | AuthError::Dpop(DpopError::Unavailable(_)),
            )
            | GatewayError::Unavailable(_) => {
                "A service the gateway depends on is unavailable; retry shortly."
            }
            GatewayError::Auth(AuthError::IdpThrottled(_)) => {
                "Too many new tokens to check right now; retry after the delay given."
            }
            GatewayError::Internal(_) => "Internal gateway error.",
            GatewayError::LoginRequired(_) => "Sign-in required.",
            GatewayError::LoginRefused => "The identity provider did not allow this sign-in.",
            GatewayError::LoginFailed(_) => "Sign-in could not be completed; please try again.",
            GatewayError::NotImplemented(_) => {
                "Not available with this configuration: back-channel logout needs session.store: redis."
            }
            GatewayError::CorsRefused(_) => "This cross-origin request is not allowed.",
            GatewayError::RateLimited(_) => "Too many requests; retry after Retry-After seconds.",
        }
    }
}

/// The methods a 405 names: every common one the gateway forwards.
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// What `respond` needs to know about the request besides the error.
pub struct ErrorContext<'a> {
    /// The request id (also sent as `X-Request-Id` by the caller).
    pub request_id: &'a HeaderValue,
    /// The route name, used as the Bearer realm; `None` before routing.
    pub realm: Option<&'a str>,
    /// The route's accepted Authorization schemes (lower-case, as configured); each
    /// gets a challenge. Empty: `Bearer`.
    pub schemes: &'a [String],
    /// The client is a browser navigation: answer with a small HTML page.
    pub html: bool,
    /// The client speaks gRPC: answer trailers-only with a `grpc-status` (wins over `html`).
    pub grpc: Option<GrpcKind>,
    /// The route's RFC 9728 document URL, named in its challenges (`resource_metadata`).
    pub resource_metadata: Option<&'a str>,
}

/// Builds the client-facing response for `err`. The one status decision point.
pub fn respond(err: &GatewayError, ctx: &ErrorContext<'_>) -> Response<Full<Bytes>> {
    if let Some(kind) = ctx.grpc {
        return grpc::respond(err, ctx, kind);
    }
    let status = err.status();
    let id = json_safe(ctx.request_id.to_str().unwrap_or(""));
    let (body, content_type) = if ctx.html {
        (
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{status}</title></head>\
                 <body><h1>{}</h1><p>{}</p><p><small>request id {id}</small></p></body></html>\n",
                status.canonical_reason().unwrap_or("Error"),
                err.message()
            ),
            "text/html; charset=utf-8",
        )
    } else {
        (
            format!(
                "{{\"error\":\"{}\",\"message\":\"{}\",\"request_id\":\"{id}\"}}\n",
                err.code(),
                err.message(),
            ),
            "application/json",
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let GatewayError::LoginRequired(location) = err {
        if let Ok(v) = HeaderValue::from_str(location) {
            h.insert(http::header::LOCATION, v);
        }
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let GatewayError::MethodNotAllowed(_) = err {
        // RFC 9110 §15.5.6: a 405 lists what is allowed.
        h.insert(
            http::header::ALLOW,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
    }
    if let Some(challenge) = challenge(err, ctx.realm, ctx.schemes, ctx.resource_metadata) {
        h.insert(WWW_AUTHENTICATE, challenge);
    }
    if let GatewayError::Auth(AuthError::Dpop(DpopError::UseNonce(nonce))) = err {
        if let Ok(v) = HeaderValue::from_str(nonce) {
            h.insert(DPOP_NONCE, v);
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let retry_after = match err {
            // The cap knows when its bucket has a token again.
            GatewayError::Auth(AuthError::IdpThrottled(secs)) => HeaderValue::from(*secs),
            _ => HeaderValue::from_static("5"),
        };
        h.insert(RETRY_AFTER, retry_after);
    }
    if let GatewayError::RateLimited(limited) = err {
        limited.write_fields(h);
    }
    resp
}

fn json_safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
