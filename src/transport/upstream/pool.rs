//! The pool of one route: per-worker stacks of idle HTTP/1.1 connections (plain TCP or
//! TLS), each worker's HTTP/2 connection for an upstream that chose it (or, `h2c://`,
//! speaks it with prior knowledge), opening new
//! connections (`dial.rs`, then TLS), and the reaper.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::FutureExt as _;
use hyper::client::conn::http2::{Builder as H2Builder, SendRequest};
use hyper_util::rt::TokioExecutor;

use super::conn::{Conn, Stream};
use super::tls::{Tls, H2};
use super::{dial, h2, PoolError, PoolMetrics, ReqBody, POOL_IDLE};
use crate::transport::workers::{self, Padded};

/// At most this many idle connections per route, shared out among the worker threads'
/// stacks (at least [`MIN_IDLE_PER_WORKER`] each); more are closed after their response.
const MAX_IDLE: usize = 512;
/// The smallest per-worker cap on idle connections.
const MIN_IDLE_PER_WORKER: usize = 64;
/// How often the reaper looks at the idle connections.
const REAP_EVERY: Duration = Duration::from_secs(15);
/// Buffers larger than this are not kept with an idle connection.
const MAX_IDLE_BUF: usize = 64 * 1024;

/// What the pool of one route shares.
pub(super) struct Inner {
    /// Host to resolve (IPv6 literals without brackets).
    pub(super) host: String,
    pub(super) port: u16,
    /// The upstream's authority (HTTP/2's `:authority`).
    pub(super) authority: http::uri::Authority,
    pub(super) connect_timeout: Duration,
    /// https: how the TLS session is made.
    pub(super) tls: Option<Tls>,
    /// `h2c://`: HTTP/2 with prior knowledge over plain TCP (HTTP/1.1 only for upgrades).
    pub(super) h2c: bool,
    h2_builder: H2Builder<TokioExecutor>,
    /// One stack per worker thread (`transport::workers`): a connection is reused only by
    /// the thread whose reactor watches its socket.
    pub(super) idle: Box<[Padded<Mutex<Vec<Idle>>>]>,
    /// One HTTP/2 connection per worker thread, for an upstream that chose HTTP/2.
    h2: Box<[Padded<h2::Slot>]>,
    /// The upstream has chosen HTTP/2 before.
    speaks_h2: AtomicBool,
    /// Idle connections kept per stack.
    idle_cap: usize,
    reaper: AtomicBool,
    pub(super) metrics: PoolMetrics,
}

pub(super) struct Idle {
    /// Boxed: it moves with every request.
    conn: Box<Conn>,
    since: Instant,
}

/// A new connection.
pub(super) enum Connected {
    /// HTTP/1.1 (plain, or TLS without h2).
    H1(Box<Conn>),
    /// HTTP/2, chosen by ALPN; kept as this worker's.
    H2(SendRequest<ReqBody>),
}

impl Inner {
    pub(super) fn new(
        authority: &http::uri::Authority,
        tls: Option<Tls>,
        h2c: bool,
        connect_timeout: Duration,
        metrics: PoolMetrics,
    ) -> Inner {
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let shards = workers::shards();
        let default_port = if tls.is_some() { 443 } else { 80 };
        Inner {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(default_port),
            authority: authority.clone(),
            connect_timeout,
            tls,
            h2c,
            h2_builder: h2::builder(),
            idle: (0..shards)
                .map(|_| Padded(Mutex::new(Vec::new())))
                .collect(),
            h2: (0..shards).map(|_| Padded(Mutex::default())).collect(),
            // Prior knowledge: known before the first connection.
            speaks_h2: AtomicBool::new(h2c),
            idle_cap: (MAX_IDLE / shards).max(MIN_IDLE_PER_WORKER),
            reaper: AtomicBool::new(false),
            metrics,
        }
    }

    /// This thread's stack of idle connections.
    fn shard(&self) -> &Mutex<Vec<Idle>> {
        &self.idle[workers::shard_index(self.idle.len())]
    }

    fn h2_slot(&self) -> &h2::Slot {
        &self.h2[workers::shard_index(self.h2.len())]
    }

    /// This thread's HTTP/2 connection, open or being made. When there is none and
    /// the upstream is known to choose HTTP/2, a handshake that the requests of this
    /// thread share.
    pub(super) fn h2(self: &Arc<Self>) -> h2::Found {
        let found = h2::find(self.h2_slot());
        if !matches!(found, h2::Found::None) || !self.speaks_h2.load(Ordering::Relaxed) {
            return found;
        }
        let pool = self.clone();
        let connecting = async move {
            match pool.connect(true).await {
                Ok(Connected::H2(sender)) => Some(sender),
                Ok(Connected::H1(conn)) => {
                    pool.put(conn);
                    None
                }
                Err(e) => {
                    tracing::debug!(error = ?e, "upstream HTTP/2 connection failed");
                    None
                }
            }
        };
        h2::connecting(self.h2_slot(), connecting.boxed().shared())
    }

    /// Keeps `sender` as this thread's HTTP/2 connection.
    fn keep_h2(&self, sender: &SendRequest<ReqBody>) {
        self.speaks_h2.store(true, Ordering::Relaxed);
        h2::keep(self.h2_slot(), sender);
    }

    /// The most recently used idle connection that is still usable, and how long it
    /// was idle.
    pub(super) fn checkout(&self) -> Option<(Box<Conn>, Duration)> {
        loop {
            let idle = self.shard().lock().ok()?.pop()?;
            let mut conn = idle.conn;
            let idle_for = idle.since.elapsed();
            if idle_for < POOL_IDLE && conn.reusable() {
                return Some((conn, idle_for));
            }
        }
    }

    /// Back into the stack, if it is reusable and there is room. (An exchange that
    /// ended reads nothing more, so the socket's readiness is clear and the check costs
    /// no system call.)
    pub(super) fn put(self: &Arc<Self>, mut conn: Box<Conn>) {
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
        self.start_reaper();
    }

    fn start_reaper(self: &Arc<Self>) {
        if !self.reaper.swap(true, Ordering::Relaxed) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(reap(Arc::downgrade(self)));
            }
        }
    }

    /// Closes idle connections that ended or, at `now`, outstayed [`POOL_IDLE`]. Each
    /// stack is looked at outside its lock (requests go on meanwhile, opening
    /// connections if they must), then what is left is put back under the newer ones.
    pub(super) fn prune(&self, now: Instant) {
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
        if let Some(idle_since) = now.checked_sub(POOL_IDLE) {
            for slot in self.h2.iter() {
                h2::prune(slot, idle_since);
            }
        }
    }

    /// A new connection: the resolved addresses raced (`dial.rs`) within the connect
    /// timeout, then, for https, the TLS handshake (also within it); `h2`: the upstream
    /// may choose HTTP/2.
    pub(super) async fn connect(self: &Arc<Self>, h2: bool) -> Result<Connected, PoolError> {
        let addrs: Vec<_> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(PoolError::Connect)?
            .collect();
        let stream = dial::dial(addrs, self.connect_timeout)
            .await
            .map_err(PoolError::Connect)?;
        self.metrics.opened.inc();
        let Some(tls) = &self.tls else {
            if self.h2c && h2 {
                let sender = h2::handshake(&self.h2_builder, stream).await?;
                self.keep_h2(&sender);
                self.start_reaper();
                return Ok(Connected::H2(sender));
            }
            return Ok(Connected::H1(Box::new(Conn::new(Stream::Tcp(stream)))));
        };
        let stream = tls
            .connect(stream, h2, self.connect_timeout)
            .await
            .map_err(PoolError::Connect)?;
        if stream.get_ref().1.alpn_protocol() == Some(H2) {
            let sender = h2::handshake(&self.h2_builder, stream).await?;
            self.keep_h2(&sender);
            self.start_reaper();
            return Ok(Connected::H2(sender));
        }
        Ok(Connected::H1(Box::new(Conn::new(Stream::Tls(Box::new(
            stream,
        ))))))
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
