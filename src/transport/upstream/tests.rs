// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The pool's bookkeeping on real sockets: what goes back into the stack, and what the
//! reaper closes. Request/response behaviour is tested through the gateway
//! (tests/it/core/upstream_pool/).

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::pool::Connected;
use super::{Pool, PoolMetrics, POOL_IDLE};

fn metrics() -> PoolMetrics {
    PoolMetrics {
        opened: prometheus::IntCounter::new("opened", "test").unwrap(),
        retried: prometheus::IntCounter::new("retried", "test").unwrap(),
    }
}

/// An upstream that accepts connections and closes each one when its `close` fires.
async fn holding_upstream() -> (
    http::uri::Authority,
    tokio::sync::mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (close, closed) = oneshot::channel::<()>();
            let _ = tx.send(close);
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                tokio::select! {
                    _ = closed => {}
                    _ = s.read(&mut buf) => {}
                }
            });
        }
    });
    (addr.to_string().parse().expect("authority"), rx)
}

/// A new plain-http connection of `pool`.
async fn connect(pool: &Pool) -> Box<super::Conn> {
    match pool.inner.connect(false).await.expect("connects") {
        Connected::H1(conn) => conn,
        Connected::H2(_) => panic!("plain http is HTTP/1.1"),
    }
}

fn idle_count(pool: &Pool) -> usize {
    pool.inner
        .idle
        .iter()
        .map(|shard| shard.lock().map_or(0, |idle| idle.len()))
        .sum()
}

#[tokio::test]
async fn connections_idle_past_pool_idle_are_closed_by_the_reaper() {
    let (authority, _closers) = holding_upstream().await;
    let pool = Pool::new(&authority, None, Duration::from_secs(5), metrics());
    for _ in 0..2 {
        let conn = connect(&pool).await;
        pool.inner.put(conn);
    }
    assert_eq!(idle_count(&pool), 2, "fresh connections are kept");
    pool.inner.prune(Instant::now());
    assert_eq!(idle_count(&pool), 2, "not yet idle for long");
    pool.inner.prune(Instant::now() + POOL_IDLE);
    assert_eq!(idle_count(&pool), 0);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_leaves_the_pool() {
    let (authority, mut closers) = holding_upstream().await;
    let pool = Pool::new(&authority, None, Duration::from_secs(5), metrics());
    let conn = connect(&pool).await;
    pool.inner.put(conn);
    assert_eq!(idle_count(&pool), 1);
    let close = closers.recv().await.expect("accepted");
    let _ = close.send(());
    // The EOF reaches the connection through the runtime's IO driver; look again until
    // it has (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    while idle_count(&pool) > 0 {
        assert!(Instant::now() < deadline, "closed connection still pooled");
        tokio::time::sleep(Duration::from_millis(10)).await;
        pool.inner.prune(Instant::now());
    }
    assert!(pool.inner.checkout().is_none());
}

#[tokio::test]
async fn a_refused_connect_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority: http::uri::Authority = listener
        .local_addr()
        .expect("addr")
        .to_string()
        .parse()
        .expect("authority");
    drop(listener);
    let pool = Pool::new(&authority, None, Duration::from_secs(5), metrics());
    match pool.inner.connect(false).await {
        Err(super::PoolError::Connect(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

#[test]
fn ipv6_literals_are_resolved_without_brackets() {
    let pool = Pool::new(
        &"[::1]:8080".parse().expect("authority"),
        None,
        Duration::from_secs(1),
        metrics(),
    );
    assert_eq!((pool.inner.host.as_str(), pool.inner.port), ("::1", 8080));
    let pool = Pool::new(
        &"example.org".parse().expect("authority"),
        None,
        Duration::from_secs(1),
        metrics(),
    );
    assert_eq!(
        (pool.inner.host.as_str(), pool.inner.port),
        ("example.org", 80)
    );
}

/// An upstream answering every request `ok`, whose connections close on a signal; it
/// reports each close once its socket is gone.
async fn answering_upstream() -> (
    http::uri::Authority,
    tokio::sync::mpsc::UnboundedReceiver<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
) {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (close, mut closing) = oneshot::channel::<()>();
            let (closed, gone) = oneshot::channel::<()>();
            let _ = tx.send((close, gone));
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    tokio::select! {
                        _ = &mut closing => break,
                        n = s.read(&mut buf) => match n {
                            Ok(n) if n > 0 => {
                                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if s.write_all(ok).await.is_err() { break; }
                            }
                            _ => break,
                        },
                    }
                }
                drop(s);
                let _ = closed.send(());
            });
        }
    });
    (addr.to_string().parse().expect("authority"), rx)
}

fn get() -> http::request::Parts {
    let req = http::Request::builder()
        .uri("/")
        .header("host", "upstream")
        .body(())
        .expect("request");
    req.into_parts().0
}

/// One own exchange of a GET on `conn`, its body read to its end (the connection then
/// goes back to `pool` if it may).
async fn get_and_read(pool: &Pool, mut conn: Box<super::Conn>) -> bytes::Bytes {
    use http_body_util::BodyExt;
    let head = super::exchange::exchange(&mut conn, &get(), &super::Added::default())
        .await
        .expect("exchange");
    let resp = super::UpstreamBody::own(head, conn, std::sync::Arc::downgrade(&pool.inner));
    resp.into_body().collect().await.expect("body").to_bytes()
}

#[tokio::test]
async fn an_exchange_on_a_connection_the_upstream_closed_fails_as_unanswered_or_unsent() {
    let (authority, mut upstream) = answering_upstream().await;
    let pool = Pool::new(&authority, None, Duration::from_secs(5), metrics());
    // One full exchange, the body read to its end: the connection goes back idle.
    let conn = connect(&pool).await;
    assert_eq!(&get_and_read(&pool, conn).await[..], b"ok");
    assert_eq!(idle_count(&pool), 1, "back in the pool at the body's end");
    let (mut conn, _) = pool.inner.checkout().expect("pooled and ready");
    // Now the upstream closes it (its keep-alive timeout) before the next request.
    let (close, gone) = upstream.recv().await.expect("accepted");
    let _ = close.send(());
    let _ = gone.await;
    let sent = tokio::time::timeout(
        Duration::from_secs(5),
        super::exchange::exchange(&mut conn, &get(), &super::Added::default()),
    )
    .await
    .expect("failed at once, not left waiting");
    assert!(
        matches!(
            sent,
            Err(super::Failure::Unanswered(_) | super::Failure::Unsent(_))
        ),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_response_with_bytes_after_its_end_does_not_go_back_to_the_pool() {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = listener
        .local_addr()
        .expect("addr")
        .to_string()
        .parse()
        .expect("authority");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
        let _ = s.write_all(two).await;
        let _ = s.read(&mut buf).await;
    });
    let pool = Pool::new(&authority, None, Duration::from_secs(5), metrics());
    let conn = connect(&pool).await;
    assert_eq!(&get_and_read(&pool, conn).await[..], b"ok");
    assert_eq!(idle_count(&pool), 0, "desynchronised: closed, not pooled");
}

#[test]
fn a_requests_upstream_future_stays_small() {
    // Each request's future is moved into its boxed service future and polled there:
    // the rare, large parts (dialling, TLS and HTTP/2 handshakes, hyper's HTTP/2
    // request) are boxed so that every request does not carry (and copy) them. Inline,
    // they made it 8.8 KB and cost ~20k instructions of memcpy per proxied request.
    let pool = Pool::new(
        &"127.0.0.1:1".parse().expect("authority"),
        None,
        Duration::from_secs(1),
        metrics(),
    );
    let send = pool.send(
        http::Request::new(super::ReqBody::Empty),
        super::Added::default(),
        tokio::time::Instant::now(),
    );
    assert!(
        std::mem::size_of_val(&send) <= 2048,
        "{} bytes",
        std::mem::size_of_val(&send)
    );
}
