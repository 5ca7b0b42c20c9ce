//! Rate limits per identity (issue 18 part 2), through running gateways: ip and header
//! limits refuse before authentication (no IdP call, no upstream request), principal
//! limits count each user on its own, and replicas sharing one real `redis-server`
//! together admit exactly the configured burst, falling back to their local buckets
//! (and saying so) while Redis is down.

mod local;
mod shared;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::support::client::Resp;
use crate::support::TestGateway;

/// An upstream answering 200 to every request and counting them.
pub async fn counting_upstream() -> (SocketAddr, Arc<AtomicU64>) {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from_static(b"{\"upstream\":true}"),
                        )))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    (addr, hits)
}

/// A 429 from the gateway for `policy` (`q` = burst, `w` = refill seconds), with
/// Retry-After equal to the RateLimit `t` and within `retry` (a second may pass).
#[track_caller]
pub fn assert_limited(r: &Resp, policy: &str, q: u64, w: u64, retry: u64, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.text());
    let after: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: Retry-After missing or not seconds"));
    assert!(
        (retry.saturating_sub(5)..=retry).contains(&after),
        "{what}: Retry-After {after}, expected about {retry}"
    );
    assert_eq!(
        r.header("ratelimit"),
        Some(format!("\"{policy}\";r=0;t={after}").as_str()),
        "{what}"
    );
    assert_eq!(
        r.header("ratelimit-policy"),
        Some(format!("\"{policy}\";q={q};w={w}").as_str()),
        "{what}"
    );
    assert!(r.header("www-authenticate").is_none(), "{what}");
    assert_eq!(r.json()["error"], "rate_limited", "{what}");
}

/// `portcullis_rate_limit_decisions_total` of `route`, `key`, `decision`.
pub async fn decisions(gw: &TestGateway, route: &str, key: &str, decision: &str) -> f64 {
    gw.metric(&format!(
        "portcullis_rate_limit_decisions_total{{decision=\"{decision}\",key=\"{key}\",route=\"{route}\"}}"
    ))
    .await
}

/// `portcullis_rate_limit_fallback_total` of `route`.
pub async fn fallbacks(gw: &TestGateway, route: &str) -> f64 {
    gw.metric(&format!(
        "portcullis_rate_limit_fallback_total{{route=\"{route}\"}}"
    ))
    .await
}
