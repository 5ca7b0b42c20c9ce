//! The keep-alive pool for plain-http upstreams: HTTP/1.1 connections driven inline by
//! the request that uses them.
//!
//! A connection is a plain value, a socket and its read buffer, kept in a per-route LIFO
//! stack (one stack per worker thread, so a connection is polled by the thread whose
//! reactor watches it). A request without a body (most of them) is exchanged by the
//! gateway's own HTTP/1.1 client codec (`h1.rs`): its head is written straight to the
//! socket, the response head parsed from it, and the response body ([`UpstreamBody`])
//! reads and decodes its framing from the same socket while the listener sends it on,
//! then puts the connection back once the body has ended exactly where the response
//! did. No task, channel or waker stands between the two legs, as in nginx. A response
//! abandoned half way (client gone) closes its connection.
//!
//! A request with a body is sent by hyper's client connection on the same socket, driven
//! by a task of its own while the exchange lasts (`exchange.rs`): its upload must go on
//! whoever reads the response, and however early the upstream answers. The socket goes
//! back to the pool when hyper is done with it.
//!
//! https upstreams and upgrades (websockets) keep using hyper-util (`client.rs`): TLS
//! sessions, ALPN/h2 and upgraded IO need a connection driven by a task of its own.
//!
//! Idle connections are not polled while they sit in the stack; a connection the
//! upstream closed meanwhile is noticed when it is taken (its EOF is already read) or by
//! the reaper, which also closes connections idle longer than [`POOL_IDLE`]. A request
//! that a stale pooled connection refused before taking any of it is sent on the next
//! connection. One that was sent on a connection idle for [`RETRY_IDLE`] or more, which
//! then closed without a response (the upstream's keep-alive timeout racing the
//! request), is sent once more on a new connection when it is idempotent and has no
//! body (RFC 9110 §9.2.2), as nginx does.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{Request, Response};
use http_body::Body as _;
use hyper::client::conn::http1::Builder;
use tokio::net::TcpStream;
use tokio::time::{Instant as TokioInstant, Sleep};

use crate::proxy::headers::clean_response;
use crate::transport::workers;

mod body;
mod dial;
mod exchange;
pub mod h1;
#[cfg(test)]
mod tests;

pub mod client;

pub use body::{ReqBody, UpstreamBody};
use exchange::{exchange_by, exchange_detached, Failure};
pub use h1::ProtoError;

/// How long an idle connection is kept.
pub const POOL_IDLE: Duration = Duration::from_secs(90);
/// At most this many idle connections per route, shared out among the worker threads'
/// stacks (at least [`MIN_IDLE_PER_WORKER`] each); more are closed after their response.
const MAX_IDLE: usize = 512;
/// The smallest per-worker cap on idle connections.
const MIN_IDLE_PER_WORKER: usize = 64;
/// How often the reaper looks at the idle connections.
const REAP_EVERY: Duration = Duration::from_secs(15);
/// A connection idle this long may meet the upstream's keep-alive timeout: an
/// idempotent request it closes on without an answer is sent once more.
pub const RETRY_IDLE: Duration = Duration::from_secs(1);

/// Why a request could not be exchanged with the upstream.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be opened (refused, unreachable, name not resolved, timeout).
    Connect(io::Error),
    /// The connection failed while sending the request or reading the response head.
    Io(io::Error),
    /// The upstream's response head broke HTTP/1.1.
    Protocol(ProtoError),
    /// hyper's client (requests with a body) failed.
    Http(hyper::Error),
    /// No response head by the deadline.
    Timeout,
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
    /// One stack per worker thread (`transport::workers`): a connection is reused only by
    /// the thread whose reactor watches its socket.
    idle: Box<[Mutex<Vec<Idle>>]>,
    /// Idle connections kept per stack.
    idle_cap: usize,
    reaper: AtomicBool,
    metrics: PoolMetrics,
}

struct Idle {
    /// Boxed: it moves with every request.
    conn: Box<Conn>,
    since: Instant,
}

/// An upstream connection: the socket and what has been read from it but not yet used
/// (nothing, between exchanges).
struct Conn {
    io: TcpStream,
    buf: BytesMut,
    /// The request head being written (kept: no allocation per request).
    out: Vec<u8>,
    /// Scratch space for parsing response heads.
    spans: Vec<h1::Span>,
    /// The response deadline of the exchange under way, made on the first one and
    /// moved by each later one: pushing a registered timer later is one atomic store in
    /// tokio (no timer-wheel work), where a timer per request is registered and
    /// removed every time.
    timer: Option<Pin<Box<Sleep>>>,
}

/// Buffers larger than this are not kept with an idle connection.
const MAX_IDLE_BUF: usize = 64 * 1024;

impl Conn {
    fn new(io: TcpStream) -> Conn {
        Conn {
            io,
            buf: BytesMut::new(),
            out: Vec::new(),
            spans: Vec::new(),
            timer: None,
        }
    }

    /// Whether the connection is idle and still open: nothing unread, and the socket
    /// holds neither an EOF nor a stray byte. Costs no system call unless the reactor
    /// has seen the socket become readable.
    fn reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        self.buf.is_empty()
            && matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
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

    /// Sends `req` (origin-form URI, Host set, hop-by-hop fields removed) and returns
    /// the response, its hop-by-hop fields removed; its body keeps the connection until
    /// it has been read.
    pub async fn send(
        &self,
        req: Request<ReqBody>,
        deadline: TokioInstant,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        if !req.body().is_end_stream() {
            return tokio::time::timeout_at(deadline, self.send_with_body(req))
                .await
                .map_err(|_| PoolError::Timeout)?;
        }
        // The upstream leg is HTTP/1.1 whatever the client spoke.
        let (parts, _) = req.into_parts();
        let mut fresh = false;
        loop {
            let pooled = if fresh { None } else { self.inner.checkout() };
            let idle_for = pooled.as_ref().map(|(_, idle_for)| *idle_for);
            let mut conn = match pooled {
                Some((conn, _)) => conn,
                None => tokio::time::timeout_at(deadline, self.inner.connect())
                    .await
                    .map_err(|_| PoolError::Timeout)??,
            };
            match exchange_by(&mut conn, &parts, deadline).await {
                Ok(head) => return Ok(UpstreamBody::own(head, conn, Arc::downgrade(&self.inner))),
                // A stale pooled connection took none of it: the next one.
                Err(Failure::Unsent(_)) if idle_for.is_some() => {}
                // Closed unanswered after a long idle: the keep-alive race.
                Err(Failure::Unanswered(_))
                    if parts.method.is_idempotent()
                        && idle_for.is_some_and(|idle| idle >= RETRY_IDLE) =>
                {
                    fresh = true;
                }
                Err(Failure::TimedOut) => return Err(PoolError::Timeout),
                Err(failed) => return Err(failed.into()),
            }
            self.inner.metrics.retried.inc();
        }
    }

    /// A request with a body: hyper's client connection on a pooled socket.
    async fn send_with_body(
        &self,
        mut req: Request<ReqBody>,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        // hyper cannot encode every version a request may carry.
        *req.version_mut() = http::Version::HTTP_11;
        let mut pooled = true;
        loop {
            let conn = match pooled.then(|| self.inner.checkout()).flatten() {
                Some((conn, _)) => conn,
                None => {
                    pooled = false;
                    self.inner.connect().await?
                }
            };
            match exchange_detached(conn, req, &self.inner).await {
                Ok(mut resp) => {
                    // Cleaned as the own codec cleans its responses.
                    clean_response(resp.headers_mut())
                        .map_err(|why| PoolError::Protocol(ProtoError(why)))?;
                    return Ok(resp.map(UpstreamBody::from));
                }
                Err(failed) => match failed.message {
                    // A stale pooled connection refused it before writing any of it.
                    Some(unsent) if pooled => {
                        self.inner.metrics.retried.inc();
                        req = unsent;
                    }
                    _ => return Err(PoolError::Http(failed.error)),
                },
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
            let conn = idle.conn;
            let idle_for = idle.since.elapsed();
            if idle_for < POOL_IDLE && conn.reusable() {
                return Some((conn, idle_for));
            }
        }
    }

    /// Back into the stack, if it is reusable and there is room. (An exchange that
    /// ended reads nothing more, so the socket's readiness is clear and the check costs
    /// no system call.)
    fn put(self: &Arc<Self>, mut conn: Box<Conn>) {
        if !conn.reusable() {
            return;
        }
        if conn.buf.capacity() > MAX_IDLE_BUF {
            conn.buf = BytesMut::new();
        }
        if conn.out.capacity() > MAX_IDLE_BUF {
            conn.out = Vec::new();
        }
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
            taken.retain(|i| now.duration_since(i.since) < POOL_IDLE && i.conn.reusable());
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
        self.metrics.opened.inc();
        Ok(Box::new(Conn::new(stream)))
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
