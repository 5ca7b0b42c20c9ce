//! The keep-alive pool for plain-http upstreams: HTTP/1.1 connections driven inline by
//! the request that uses them.
//!
//! hyper-util's pool runs every upstream connection as its own task and hands requests,
//! responses and body chunks to it through channels, so each proxied request costs
//! several task wake-ups plus a hashed pool lookup. Here a connection is a plain value: a
//! request without a body takes one from a per-route LIFO stack (one stack per worker
//! thread, so a connection is polled by the thread whose reactor watches it), polls it
//! itself until the response head arrives, and hands it to the response body
//! ([`UpstreamBody`]), which keeps polling it while the body streams and puts it back
//! once the body has been read to its end. A response abandoned half way (client gone) closes its
//! connection. A request with a body has its connection driven by a task of its own
//! while the exchange lasts (`exchange.rs`): its upload must go on whoever reads the
//! response, and however early the upstream answers.
//!
//! https upstreams and upgrades (websockets) keep using hyper-util (`client.rs`): TLS
//! sessions, ALPN/h2 and upgraded IO need a connection driven by a task of its own.
//!
//! Idle connections are not polled while they sit in the stack; a connection the
//! upstream closed meanwhile is noticed when it is taken (its EOF is already read) or by
//! the reaper, which also closes connections idle longer than [`POOL_IDLE`]. A request
//! that a stale connection refused before sending anything is sent again on the next
//! connection (hyper hands unsent requests back). One that was sent on a connection idle
//! for [`RETRY_IDLE`] or more, which then closed without a response (the upstream's
//! keep-alive timeout racing the request), is sent once more on a new connection when
//! it is idempotent and has no body (RFC 9110 §9.2.2), as nginx does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use crate::server::workers;
use http::{Request, Response};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::{Builder, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

mod body;
mod dial;
mod exchange;
#[cfg(test)]
mod tests;
mod wake;

use body::Link;
pub use body::{ReqBody, UpstreamBody};
use exchange::{closed_unanswered, exchange, exchange_detached, retry_copy};

/// How long an idle connection is kept.
pub const POOL_IDLE: Duration = Duration::from_secs(90);
/// At most this many idle connections per route, shared out among the worker threads'
/// stacks (at least [`MIN_IDLE_PER_WORKER`] each); more are closed after their response.
const MAX_IDLE: usize = 512;
/// The smallest per-worker cap on idle connections.
const MIN_IDLE_PER_WORKER: usize = 64;
/// How often the reaper looks at the idle connections.
const REAP_EVERY: Duration = Duration::from_secs(15);
/// A connection idle this long may meet the upstream's keep-alive timeout: its
/// idempotent requests keep a copy of their head for one retry.
pub const RETRY_IDLE: Duration = Duration::from_secs(1);

/// Why a request could not be exchanged with the upstream.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be opened (refused, unreachable, name not resolved, timeout).
    Connect(io::Error),
    /// The connection failed while sending the request or reading the response head.
    Http(hyper::Error),
}

/// The counters a pool reports to (one route's series).
#[derive(Clone)]
pub struct PoolMetrics {
    /// Connections opened.
    pub opened: prometheus::IntCounter,
    /// Requests sent again after a pooled connection turned out stale.
    pub retried: prometheus::IntCounter,
}

/// One route's pool. Cheap to clone (shared).
#[derive(Clone)]
pub struct H1Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// Host to resolve (IPv6 literals without brackets).
    host: String,
    port: u16,
    connect_timeout: Duration,
    builder: Builder,
    /// One stack per worker thread (`server::workers`): a connection is reused only by
    /// the thread whose reactor watches its socket.
    idle: Box<[Mutex<Vec<Idle>>]>,
    /// Idle connections kept per stack.
    idle_cap: usize,
    reaper: AtomicBool,
    metrics: PoolMetrics,
}

struct Idle {
    /// Boxed: a connection is a few hundred bytes and moves with every request.
    conn: Box<Conn>,
    since: Instant,
}

/// A connection: hyper's request handle, the connection future that does the IO, and
/// the waker it is polled with inline.
struct Conn {
    sender: SendRequest<ReqBody>,
    io: Connection<TokioIo<TcpStream>, ReqBody>,
    inline: wake::Inline,
}

impl Conn {
    /// Polls the connection's IO once; `true` once it has ended (closed or failed).
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        Pin::new(&mut self.io).poll(cx).is_ready()
    }

    /// Whether the connection is alive and ready for a request, after letting it take
    /// in whatever the socket holds (an EOF, a stray byte) without registering a waker.
    fn reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        !self.drive(&mut cx) && self.sender.is_ready()
    }
}

impl H1Pool {
    /// A pool for `authority` (`host[:port]`, port 80 by default).
    pub fn new(
        authority: &http::uri::Authority,
        connect_timeout: Duration,
        metrics: PoolMetrics,
    ) -> H1Pool {
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let shards = workers::shards();
        H1Pool {
            inner: Arc::new(Inner {
                host: host.to_owned(),
                port: authority.port_u16().unwrap_or(80),
                connect_timeout,
                builder: Builder::new(),
                idle: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
                idle_cap: (MAX_IDLE / shards).max(MIN_IDLE_PER_WORKER),
                reaper: AtomicBool::new(false),
                metrics,
            }),
        }
    }

    /// Sends `req` (origin-form URI, Host set) and returns the response head; its body
    /// keeps the connection until it has been read.
    pub async fn send(&self, req: Request<Incoming>) -> Result<Response<UpstreamBody>, PoolError> {
        let mut req = req.map(ReqBody::Client);
        // The upstream leg is HTTP/1.1 whatever the client spoke (hyper cannot encode
        // every version a request may carry).
        *req.version_mut() = http::Version::HTTP_11;
        let mut retried = false;
        loop {
            let pooled = if retried { None } else { self.inner.checkout() };
            let (conn, copy) = match pooled {
                Some((conn, idle_for)) => {
                    let copy = (idle_for >= RETRY_IDLE).then(|| retry_copy(&req)).flatten();
                    (conn, Some(copy))
                }
                None => (self.inner.connect().await?, None),
            };
            let exchanged = if req.body().is_end_stream() {
                exchange(conn, req).await
            } else {
                // The task keeps the connection; the body streams through hyper's channel.
                let pool = Arc::downgrade(&self.inner);
                exchange_detached(conn, req, pool)
                    .await
                    .map(|resp| (resp, None))
            };
            match exchanged {
                Ok((resp, conn)) => {
                    let link = conn.map(|conn| Link {
                        conn,
                        pool: Arc::downgrade(&self.inner),
                    });
                    return Ok(resp.map(|body| UpstreamBody { body, link }));
                }
                Err(mut failed) => {
                    let Some(copy) = copy else {
                        return Err(PoolError::Http(failed.error));
                    };
                    // A stale pooled connection refused the request before writing
                    // any of it: send it on the next one (or a new one).
                    if let Some(unsent) = failed.message.take() {
                        self.inner.metrics.retried.inc();
                        req = unsent;
                        continue;
                    }
                    match copy {
                        Some(copy) if closed_unanswered(&failed.error) => {
                            self.inner.metrics.retried.inc();
                            req = copy;
                            retried = true;
                        }
                        _ => return Err(PoolError::Http(failed.error)),
                    }
                }
            }
        }
    }
}

impl Inner {
    /// This thread's stack of idle connections.
    fn shard(&self) -> &Mutex<Vec<Idle>> {
        &self.idle[workers::shard_index(self.idle.len())]
    }

    /// The most recently used idle connection that is still usable, and how long it
    /// was idle.
    fn checkout(&self) -> Option<(Box<Conn>, Duration)> {
        loop {
            let idle = self.shard().lock().ok()?.pop()?;
            let mut conn = idle.conn;
            let idle_for = idle.since.elapsed();
            if idle_for < POOL_IDLE && conn.reusable() {
                return Some((conn, idle_for));
            }
        }
    }

    /// Back into the stack, if it is reusable and there is room.
    fn put(self: &Arc<Self>, mut conn: Box<Conn>) {
        // Usually the body's last poll left hyper asking for the next request already;
        // otherwise one more poll settles it (or finds it unusable). Checkout looks again
        // before any reuse.
        if !conn.sender.is_ready() && !conn.reusable() {
            return;
        }
        conn.inline.release();
        let Ok(mut idle) = self.shard().lock() else {
            return;
        };
        if idle.len() >= self.idle_cap {
            return;
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
        drop(idle);
        if !self.reaper.swap(true, Ordering::Relaxed) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(reap(Arc::downgrade(self)));
            }
        }
    }

    /// Closes idle connections that ended or, at `now`, outstayed [`POOL_IDLE`]. Each
    /// stack is looked at outside its lock (requests go on meanwhile, opening
    /// connections if they must), then what is left is put back under the newer ones.
    fn prune(&self, now: Instant) {
        for shard in self.idle.iter() {
            let Some(mut taken) = shard.lock().ok().map(|mut idle| std::mem::take(&mut *idle))
            else {
                continue;
            };
            taken.retain_mut(|i| now.duration_since(i.since) < POOL_IDLE && i.conn.reusable());
            if let Ok(mut idle) = shard.lock() {
                let newer = std::mem::replace(&mut *idle, taken);
                idle.extend(newer);
                let excess = idle.len().saturating_sub(self.idle_cap);
                idle.drain(..excess);
            }
        }
    }

    /// A new connection: the resolved addresses raced (`dial.rs`) within the connect
    /// timeout.
    async fn connect(&self) -> Result<Box<Conn>, PoolError> {
        let addrs: Vec<_> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(PoolError::Connect)?
            .collect();
        let stream = dial::dial(addrs, self.connect_timeout)
            .await
            .map_err(PoolError::Connect)?;
        let (sender, io) = self
            .builder
            .handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Http)?;
        self.metrics.opened.inc();
        Ok(Box::new(Conn {
            sender,
            io,
            inline: wake::Inline::new(),
        }))
    }
}

/// Runs while the pool exists (a reload that replaces the route drops it).
async fn reap(pool: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        match pool.upgrade() {
            Some(pool) => pool.prune(Instant::now()),
            None => return,
        }
    }
}
