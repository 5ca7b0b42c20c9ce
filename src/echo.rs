//! A tiny echo upstream, bundled for the out-of-the-box demo (`portcullis run` without a
//! config) and used by the integration tests. It answers with the request it received as
//! JSON (method, path, query, headers), streams the body back for `POST /stream`, and
//! echoes raw bytes after an HTTP upgrade. It is a diagnostic tool, never a proxy.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

type EchoBody = BoxBody<Bytes, hyper::Error>;

/// Serves echo requests on `listener` forever (spawn it).
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

async fn answer(mut req: Request<Incoming>) -> Result<Response<EchoBody>, Infallible> {
    if req.headers().contains_key(UPGRADE) {
        let proto = req.headers().get(UPGRADE).cloned();
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(p) = proto {
            resp.headers_mut().insert(UPGRADE, p);
        }
        return Ok(resp);
    }
    if req.uri().path() == "/stream" {
        // Streams the request body straight back, frame by frame, never buffering it.
        let body = req.into_body().boxed();
        return Ok(Response::new(body));
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers() {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let json = serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "version": format!("{:?}", req.version()),
        "headers": headers,
    });
    let mut resp = Response::new(
        Full::new(Bytes::from(json.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

fn empty() -> EchoBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}
