//! Forwarding one request to its upstream and classifying failures (refused/reset → 502,
//! timeout → 504). Bodies stream both ways; upgrades (websockets) are tunnelled. It never
//! decides a status code itself: failures go back as `GatewayError`.

use std::error::Error as StdError;
use std::time::Duration;

use crate::transport::upstream::ReqBody;
use http::header::{CONNECTION, HOST, UPGRADE};
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;

use super::headers::{self, remove_hop_by_hop};
use super::slab;
use crate::config::Upstream;
use crate::error::GatewayError;
use crate::transport::upstream::client::UpstreamClient;
use crate::transport::upstream::{PoolError, UpstreamBody};
use crate::transport::workers;

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

/// Sends `req` (hop-by-hop headers already removed by the pipeline's hygiene phase) to
/// the upstream at `path` (normalised, prefix already stripped) and returns the
/// upstream's response with hop-by-hop headers removed. `upgrade` is the protocol the
/// client asked to switch to, if any.
pub async fn forward(
    target: &Target<'_>,
    mut req: Request<ReqBody>,
    path: &str,
    upgrade: Option<HeaderValue>,
) -> Result<Response<UpstreamBody>, GatewayError> {
    let pq = path_and_query(target.upstream, path, req.uri().query())?;
    // With `preserve_host` the client's Host stays: hygiene has made it the host the
    // route was chosen on (an absolute-form or HTTP/2 authority included). A request
    // without one (HTTP/1.0) gets the upstream's own, as does every other route.
    if !target.preserve_host || !req.headers().contains_key(HOST) {
        req.headers_mut()
            .insert(HOST, target.client.host_header.clone());
    }
    if let (None, Some(pool)) = (&upgrade, &target.client.pool) {
        // Plain-http upstream: the own HTTP/1.1 pool, origin-form request target.
        *req.uri_mut() = Uri::from(pq);
        let deadline = tokio::time::Instant::now() + target.response_timeout;
        let resp = pool.send(req, deadline).await.map_err(classify_pool)?;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            return Err(GatewayError::UpstreamProtocol(
                "101 without an upgrade request".into(),
            ));
        }
        // The pool has removed the hop-by-hop fields already.
        return Ok(resp);
    }
    *req.uri_mut() = absolute_uri(target.upstream, pq)?;
    let client_upgrade = match &upgrade {
        Some(proto) => {
            req.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            req.headers_mut().insert(UPGRADE, proto.clone());
            // The upstream leg of an upgrade is always HTTP/1.1.
            *req.version_mut() = Version::HTTP_11;
            Some(hyper::upgrade::on(&mut req))
        }
        None => {
            // Let the pool pick h1/h2 per upstream; the client's version is irrelevant.
            *req.version_mut() = Version::HTTP_11;
            None
        }
    };

    let sent =
        tokio::time::timeout(target.response_timeout, target.client.legacy().request(req)).await;
    let mut resp = match sent {
        Err(_) => return Err(GatewayError::UpstreamTimeout),
        Ok(Err(e)) => return Err(classify(&e)),
        Ok(Ok(resp)) => resp,
    };

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let (Some(client_upgrade), Some(proto)) = (client_upgrade, upgrade) else {
            return Err(GatewayError::UpstreamProtocol(
                "101 without an upgrade request".into(),
            ));
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        // The tunnel outlives the connection's task: it keeps counting on this worker.
        let busy = workers::Busy::current();
        tokio::spawn(async move {
            let _busy = busy;
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    let mut client = TokioIo::new(client);
                    let mut upstream = TokioIo::new(upstream);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                    {
                        tracing::debug!(error = %e, "upgraded tunnel closed with an error");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        });
        let accept_headers = resp.headers().clone();
        remove_hop_by_hop(resp.headers_mut());
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
        let proto = accept_headers.get(UPGRADE).cloned().unwrap_or(proto);
        resp.headers_mut().insert(UPGRADE, proto);
        return Ok(resp.map(UpstreamBody::from));
    }
    clean_response(resp.headers_mut())?;
    Ok(resp.map(UpstreamBody::from))
}

/// [`headers::clean_response`] with its refusal as a 502.
fn clean_response(headers: &mut http::HeaderMap) -> Result<(), GatewayError> {
    headers::clean_response(headers).map_err(|why| GatewayError::UpstreamProtocol(why.into()))
}

/// Base path + `path` + `?query`.
fn path_and_query(
    up: &Upstream,
    path: &str,
    query: Option<&str>,
) -> Result<PathAndQuery, GatewayError> {
    let pq = match query {
        Some(q) => slab::join(&[up.base_path.as_bytes(), path.as_bytes(), b"?", q.as_bytes()]),
        None => slab::join(&[up.base_path.as_bytes(), path.as_bytes()]),
    };
    PathAndQuery::from_maybe_shared(pq)
        .map_err(|_| GatewayError::BadRequest("path cannot be forwarded"))
}

/// `scheme://authority` + `pq`.
fn absolute_uri(up: &Upstream, pq: PathAndQuery) -> Result<Uri, GatewayError> {
    Uri::builder()
        .scheme(if up.https {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        })
        .authority(up.authority.clone())
        .path_and_query(pq)
        .build()
        .map_err(|_| GatewayError::BadRequest("path cannot be forwarded"))
}

/// The own pool's failures: connect timeout → 504, other connect failures → 502, the
/// rest is a failure of the upstream → 502.
fn classify_pool(err: PoolError) -> GatewayError {
    match err {
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

/// Whether hyper's client failed because the *client's* body (streamed through) failed:
/// a malformed chunk, a body cut short. That is a 400 (the client's fault), not an
/// upstream error. hyper reports it as an error of the "user's body stream" whose cause
/// is the error the listener's `Incoming` body gave.
fn client_body_failed(err: &hyper::Error) -> bool {
    err.is_user()
        && err
            .source()
            .is_some_and(|s| s.downcast_ref::<hyper::Error>().is_some())
}

/// Timeouts anywhere in the cause chain → 504; connect failures → 502; a client body
/// that failed → 400; the rest is a protocol failure of the upstream → 502.
fn classify(err: &hyper_util::client::legacy::Error) -> GatewayError {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>()
            .is_some_and(client_body_failed)
        {
            return GatewayError::BadRequest(CLIENT_BODY);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return GatewayError::UpstreamTimeout;
            }
        }
        source = s.source();
    }
    let text = error_chain(err);
    if err.is_connect() {
        GatewayError::UpstreamConnect(text)
    } else {
        GatewayError::UpstreamProtocol(text)
    }
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
