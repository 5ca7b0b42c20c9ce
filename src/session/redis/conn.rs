//! The connection to Redis: one URL = a standalone server through the redis crate's
//! auto-reconnecting `ConnectionManager`; several comma-separated URLs = the seed nodes of
//! a Redis Cluster (`cluster_async::ClusterConnection`, which follows slot moves and
//! reconnects by itself). Both are created lazily on first use, so the gateway starts
//! while Redis is down, and a background probe keeps the health flag (for `/readyz`)
//! current and drives reconnection even without traffic.
//!
//! Must never put the URL (it may carry a password) into an error, a log line or a
//! metric, and never let a request wait on Redis for longer than [`OP_TIMEOUT`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Value};

use crate::otel::{self, Child, SpanKind};
use crate::session::SessionError;

/// Upper bound of one Redis operation as seen by a request (connect included).
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the background probe PINGs Redis.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Which deployment the URL names.
enum Target {
    Single(Box<redis::Client>),
    Cluster(Box<ClusterClient>),
}

/// A live connection of either kind (cheap to clone: both are handles).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A lazily connected, self-healing Redis handle with a health flag.
pub struct RedisConn {
    target: Target,
    conn: tokio::sync::OnceCell<Conn>,
    healthy: AtomicBool,
    cluster: bool,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConn")
            .field("cluster", &self.cluster)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

/// The seed URLs of `session.redis.url`: one for a standalone server, several
/// (comma-separated) for a Redis Cluster.
pub fn split_urls(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

impl RedisConn {
    /// Parses `url` (no connection is made). Errors never contain the URL.
    pub fn new(url: &str) -> Result<Arc<RedisConn>, SessionError> {
        let urls = split_urls(url);
        let bad = |e: redis::RedisError| {
            SessionError::Unavailable(format!("session.redis.url is not usable ({:?})", e.kind()))
        };
        let (target, cluster) = match urls.as_slice() {
            [] => {
                return Err(SessionError::Unavailable(
                    "session.redis.url is empty".into(),
                ))
            }
            [one] => (
                Target::Single(Box::new(redis::Client::open(*one).map_err(bad)?)),
                false,
            ),
            many => {
                let client = ClusterClientBuilder::new(many.to_vec())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(OP_TIMEOUT)
                    .retries(2)
                    .build()
                    .map_err(bad)?;
                (Target::Cluster(Box::new(client)), true)
            }
        };
        Ok(Arc::new(RedisConn {
            target,
            conn: tokio::sync::OnceCell::new(),
            healthy: AtomicBool::new(false),
            cluster,
        }))
    }

    /// Whether the last operation or probe reached Redis.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Whether the URL named a cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The client of a single server, for the invalidation subscription; `None` for a
    /// cluster (whose record copies are then never served without asking Redis).
    pub fn single_client(&self) -> Option<redis::Client> {
        match &self.target {
            Target::Single(client) => Some((**client).clone()),
            Target::Cluster(_) => None,
        }
    }

    /// Starts the background probe when a Tokio runtime is running (not during
    /// `check-config`). It holds only a weak reference: it ends with the store.
    pub fn spawn_probe(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(self);
        handle.spawn(async move {
            loop {
                {
                    let Some(this) = weak.upgrade() else { return };
                    let was = this.is_healthy();
                    let ok = this.run::<String>(redis::cmd("PING")).await.is_ok();
                    if ok != was {
                        if ok {
                            tracing::info!("redis reachable");
                        } else {
                            tracing::warn!("redis unreachable");
                        }
                    }
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
        });
    }

    async fn connection(&self) -> Result<Conn, SessionError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                match &self.target {
                    Target::Single(client) => {
                        let cfg = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(CONNECT_TIMEOUT))
                            .set_response_timeout(Some(OP_TIMEOUT))
                            .set_number_of_retries(2)
                            .set_min_delay(Duration::from_millis(50))
                            .set_max_delay(Duration::from_millis(500));
                        ConnectionManager::new_lazy_with_config((**client).clone(), cfg)
                            .map(Conn::Single)
                    }
                    Target::Cluster(client) => {
                        client.get_async_connection().await.map(Conn::Cluster)
                    }
                }
            })
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(conn.clone())
    }

    fn failed(&self, e: &redis::RedisError) -> SessionError {
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error()
        {
            self.healthy.store(false, Ordering::Relaxed);
        }
        // The kind and category only: the display form may name the server.
        SessionError::Unavailable(format!("redis {:?}", e.kind()))
    }

    /// Runs one command, bounded by [`OP_TIMEOUT`]; updates the health flag.
    pub async fn run<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, SessionError> {
        let span = traced(|| match cmd.args_iter().next() {
            Some(redis::Arg::Simple(name)) => name,
            _ => b"?",
        });
        self.bounded(span, async {
            let mut conn = self.connection().await?;
            cmd.query_async::<T>(&mut conn)
                .await
                .map_err(|e| self.failed(&e))
        })
        .await
    }

    /// Runs a pipeline (one round trip), bounded by [`OP_TIMEOUT`].
    pub async fn pipe<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, SessionError> {
        let span = traced(|| b"pipeline");
        self.bounded(span, async {
            let mut conn = self.connection().await?;
            pipe.query_async::<T>(&mut conn)
                .await
                .map_err(|e| self.failed(&e))
        })
        .await
    }

    /// Runs a Lua script on its keys, bounded by [`OP_TIMEOUT`].
    pub async fn script<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, SessionError> {
        self.bounded(traced(|| b"EVALSHA"), async {
            let mut conn = self.connection().await?;
            let mut inv = script.prepare_invoke();
            for k in keys {
                inv.key(*k);
            }
            for a in args {
                inv.arg(*a);
            }
            inv.invoke_async::<T>(&mut conn)
                .await
                .map_err(|e| self.failed(&e))
        })
        .await
    }

    async fn bounded<T>(
        &self,
        span: Option<Child>,
        op: impl std::future::Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        let result = self.timed(op).await;
        if let Some(mut span) = span {
            if let Err(e) = &result {
                span.attr("error.type", "unavailable");
                span.fail(e.to_string());
            }
            span.end();
        }
        result
    }

    async fn timed<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(v)) => {
                self.healthy.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                self.healthy.store(false, Ordering::Relaxed);
                Err(SessionError::Unavailable("redis timed out".into()))
            }
        }
    }
}

/// The client span `redis <COMMAND>` of one operation when the request is sampled. Only
/// the command's name is recorded: keys name sessions, so they are secrets.
fn traced<'a>(command: impl FnOnce() -> &'a [u8]) -> Option<Child> {
    if !otel::recording() {
        return None;
    }
    let name: String = command()
        .iter()
        .take(32)
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| char::from(b.to_ascii_uppercase()))
        .collect();
    let mut span = otel::child(format!("redis {name}"), SpanKind::Client)?;
    span.attr("db.system.name", "redis");
    span.attr("db.operation.name", name);
    Some(span)
}
