//! Forwarding one request to its upstream and classifying failures (refused/reset → 502,
//! timeout → 504). Bodies stream both ways; upgrades (websockets) are tunnelled. It never
//! decides a status code itself: failures go back as `GatewayError`.

use std::error::Error as StdError;
use std::time::Duration;

use http::header::{CONNECTION, HOST, UPGRADE};
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri};

use super::slab;
use crate::config::Upstream;
use crate::error::GatewayError;
use crate::transport::upstream::client::UpstreamClient;
use crate::transport::upstream::{Added, PoolError, ReqBody, Upgrade, UpstreamBody};

/// What the forwarder needs from the route.
pub struct Target<'a> {
    /// Upstream base.
    pub upstream: &'a Upstream,
    /// Pooled clients.
    pub client: &'a UpstreamClient,
    /// Keep the client's Host header.
    pub preserve_host: bool,
    /// Time until the upstream's response headers.
    pub response_timeout: Duration,
}

/// Sends `req` (hop-by-hop headers already removed by the pipeline's hygiene phase) and
/// the fields the gateway `added` (names absent from `req`'s map) to the upstream at `path` (normalised, prefix already stripped) and returns the
/// upstream's response with hop-by-hop headers removed. `upgrade` is the protocol the
/// client asked to switch to, if any (only websocket: the pipeline's hygiene decides).
pub async fn forward(
    target: &Target<'_>,
    mut req: Request<ReqBody>,
    added: Added,
    path: &str,
    upgrade: Option<HeaderValue>,
) -> Result<Response<UpstreamBody>, GatewayError> {
    let pq = path_and_query(target.upstream, path, req.uri())?;
    // With `preserve_host` the client's Host stays: hygiene has made it the host the
    // route was chosen on (an absolute-form or HTTP/2 authority included). A request
    // without one (HTTP/1.0) gets the upstream's own, as does every other route.
    if !target.preserve_host || !req.headers().contains_key(HOST) {
        req.headers_mut()
            .insert(HOST, target.client.host_header.clone());
    }
    // Origin form: the pool makes it absolute for HTTP/2.
    *req.uri_mut() = Uri::from(pq);
    let deadline = tokio::time::Instant::now() + target.response_timeout;
    let pool = &target.client.pool;
    let Some(proto) = upgrade else {
        let resp = pool.send(req, added, deadline).await.map_err(classify)?;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            return Err(GatewayError::UpstreamProtocol(
                "101 without an upgrade request".into(),
            ));
        }
        // The pool has removed the hop-by-hop fields already.
        return Ok(resp);
    };
    req.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    req.headers_mut().insert(UPGRADE, proto.clone());
    let client_upgrade = hyper::upgrade::on(&mut req);
    match pool.upgrade(req, added, deadline).await.map_err(classify)? {
        Upgrade::Declined(resp) => Ok(resp),
        Upgrade::Switched(mut resp, switched, tunnel) => {
            // A tunnel of another protocol than the one asked for (and checked) would
            // carry what the gateway never saw.
            if !switched
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(proto.as_bytes().trim_ascii())
            {
                return Err(GatewayError::UpstreamProtocol(
                    "101 to another protocol than the one asked for".into(),
                ));
            }
            tunnel.spawn(client_upgrade);
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            resp.headers_mut().insert(UPGRADE, switched);
            Ok(resp)
        }
    }
}

/// Base path + `path` + `?query` (the query of `uri`, the request's target). When that
/// is the target as the client sent it (no base path, and a path that normalising and
/// prefix stripping left as it was: most requests), the target itself is reused: no copy
/// and no second parse of its bytes.
fn path_and_query(up: &Upstream, path: &str, uri: &Uri) -> Result<PathAndQuery, GatewayError> {
    if up.base_path.is_empty() {
        if let Some(pq) = uri.path_and_query().filter(|pq| pq.path() == path) {
            return Ok(pq.clone());
        }
    }
    let pq = match uri.query() {
        Some(q) => slab::join(&[up.base_path.as_bytes(), path.as_bytes(), b"?", q.as_bytes()]),
        None => slab::join(&[up.base_path.as_bytes(), path.as_bytes()]),
    };
    PathAndQuery::from_maybe_shared(pq)
        .map_err(|_| GatewayError::BadRequest("path cannot be forwarded"))
}

/// The pool's failures: timeouts → 504, connect failures → 502, a client body that
/// failed → 400 (the client's fault, not the upstream's), the rest is a failure of the
/// upstream → 502.
fn classify(err: PoolError) -> GatewayError {
    match err {
        PoolError::ClientBody(_) => GatewayError::BadRequest(CLIENT_BODY),
        PoolError::Http(e) if client_body_failed(&e) => GatewayError::BadRequest(CLIENT_BODY),
        PoolError::Timeout => GatewayError::UpstreamTimeout,
        PoolError::Connect(e) | PoolError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            GatewayError::UpstreamTimeout
        }
        PoolError::Connect(e) => GatewayError::UpstreamConnect(e.to_string()),
        PoolError::Io(e) => GatewayError::UpstreamProtocol(e.to_string()),
        PoolError::Protocol(e) => GatewayError::UpstreamProtocol(e.to_string()),
        PoolError::Http(e) if e.is_timeout() => GatewayError::UpstreamTimeout,
        PoolError::Http(e) => GatewayError::UpstreamProtocol(error_chain(&e)),
    }
}

/// The 400 text for a request body that could not be read whole.
const CLIENT_BODY: &str = "the request body ended early or was malformed";

/// Whether hyper's HTTP/2 client failed because the *client's* body (streamed through)
/// failed: a malformed chunk, a body cut short. hyper reports it as an error of the
/// "user's body stream" whose cause is the error the listener's `Incoming` body gave.
fn client_body_failed(err: &hyper::Error) -> bool {
    err.is_user()
        && err
            .source()
            .is_some_and(|s| s.downcast_ref::<hyper::Error>().is_some())
}

fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn upstream(base_path: &str) -> Upstream {
        Upstream {
            url: "http://up".into(),
            https: false,
            h2c: false,
            authority: http::uri::Authority::from_static("up"),
            base_path: base_path.into(),
        }
    }

    #[test]
    fn the_target_is_reused_only_when_nothing_changed() {
        let uri: Uri = "/api/v1/items?id=7&x=%20".parse().unwrap();
        let pq = path_and_query(&upstream(""), "/api/v1/items", &uri).unwrap();
        assert_eq!(pq.as_str(), "/api/v1/items?id=7&x=%20");
        let original = uri.path_and_query().unwrap().as_str();
        assert_eq!(pq.as_str().as_ptr(), original.as_ptr(), "not copied");
        // A path the pipeline changed (normalised, prefix stripped) is built anew.
        for (base, path, want) in [
            ("", "/v1/items", "/v1/items?id=7&x=%20"),
            ("", "/api/v1/items/", "/api/v1/items/?id=7&x=%20"),
            ("/base", "/api/v1/items", "/base/api/v1/items?id=7&x=%20"),
        ] {
            let pq = path_and_query(&upstream(base), path, &uri).unwrap();
            assert_eq!(pq.as_str(), want);
            assert_ne!(pq.as_str().as_ptr(), original.as_ptr());
        }
        // Absolute form: the origin form of the same path and query.
        let uri: Uri = "http://example.com/a/b?c".parse().unwrap();
        let pq = path_and_query(&upstream(""), "/a/b", &uri).unwrap();
        assert_eq!(pq.as_str(), "/a/b?c");
        let pq = path_and_query(&upstream(""), "/a/b/", &uri).unwrap();
        assert_eq!(pq.as_str(), "/a/b/?c");
    }
}
