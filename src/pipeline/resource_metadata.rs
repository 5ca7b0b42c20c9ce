//! RFC 9728 protected resource metadata: `GET /.well-known/oauth-protected-resource[/<path>]`
//! answers the document of the route whose resource it names (MCP clients start here to
//! find the authorization server of a protected server).
//!
//! The well-known path lies outside `server.proxy_prefix`, so this runs before routing
//! and must never shadow a route by accident: only GET and HEAD of a path that exactly
//! names a published document are answered, and only when routing would send that
//! resource's own path (on this host) to the publishing route. Validation refuses any
//! route other than a catch-all (`/`) whose prefix covers a document path; a catch-all
//! route loses exactly those paths (documented in the example config).

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::Full;

use super::hygiene::request_host;
use crate::config::RESOURCE_METADATA_PATH;
use crate::runtime::Runtime;

/// The document for this request, if it asks for one; `None` lets routing go on.
pub fn serve<B>(
    rt: &Runtime,
    req: &Request<B>,
    path: &str,
) -> Option<(usize, Response<Full<Bytes>>)> {
    if rt.machine.documents.is_empty()
        || !(req.method() == Method::GET || req.method() == Method::HEAD)
    {
        return None;
    }
    let rest = path.strip_prefix(RESOURCE_METADATA_PATH)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let resource_path = if rest.is_empty() { "/" } else { rest };
    let routed = rt.table.find(request_host(req), resource_path)?;
    let doc = rt
        .machine
        .documents
        .iter()
        .find(|d| d.route == routed && d.path == path)?;
    let route = rt.routes.get(doc.route)?;
    rt.metrics
        .machine
        .resource_metadata
        .with_label_values(&[&route.name])
        .inc();
    let mut resp = Response::new(Full::new(doc.body.clone()));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Short: a reload may change the document (issuer, scopes, DPoP settings).
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Some((doc.route, resp))
}
