//! The runtime snapshot: everything one request reads (config, route table, upstream
//! pools, providers, caches), built once per config version and swapped atomically.
//!
//! A request loads the snapshot once and uses only it, so a reload never gives one
//! request half of an old and half of a new config. Nothing here is mutated after build.

use std::sync::Arc;

use arc_swap::ArcSwap;
use thiserror::Error;

use crate::config::{Config, RouteConfig};
use crate::metrics::{Metrics, RouteMetrics};
use crate::proxy::client::{self, UpstreamClient};
use crate::proxy::headers::IdentityHeaderSet;
use crate::proxy::tls::TlsError;
use crate::routing::table::RouteTable;

/// A config that parsed but cannot be put into service.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A route's upstream TLS files are unusable.
    #[error("routes[{index}] ({name}).upstream_tls: {source}")]
    UpstreamTls {
        /// Route index.
        index: usize,
        /// Route name.
        name: String,
        /// The TLS problem.
        source: TlsError,
    },
}

/// One route, ready to serve.
pub struct RouteRuntime {
    /// Its validated config.
    pub config: RouteConfig,
    /// Its name, shared with logs.
    pub name: Arc<str>,
    /// Its upstream pool (shared with the previous snapshot when unchanged).
    pub client: UpstreamClient,
    /// Its pre-resolved metric handles.
    pub metrics: RouteMetrics,
}

/// The immutable snapshot.
pub struct Runtime {
    /// The config it was built from.
    pub config: Arc<Config>,
    /// Routes, indexed like `config.routes`.
    pub routes: Vec<RouteRuntime>,
    /// Host + path → route index.
    pub table: RouteTable,
    /// Every identity header name any route may set (stripped from every request).
    pub identity_strip: IdentityHeaderSet,
}

impl Runtime {
    /// Builds a snapshot from `config`, reusing what `previous` has for unchanged parts.
    pub fn build(
        config: Config,
        previous: Option<&Runtime>,
        metrics: &Metrics,
    ) -> Result<Runtime, BuildError> {
        let mut routes = Vec::with_capacity(config.routes.len());
        for (index, rc) in config.routes.iter().enumerate() {
            let reused = previous.and_then(|p| {
                p.routes
                    .iter()
                    .find(|r| r.config.name == rc.name && client::reusable(&r.config, rc))
                    .map(|r| r.client.clone())
            });
            let client = match reused {
                Some(c) => c,
                None => client::build(rc).map_err(|source| BuildError::UpstreamTls {
                    index,
                    name: rc.name.clone(),
                    source,
                })?,
            };
            routes.push(RouteRuntime {
                config: rc.clone(),
                name: Arc::from(rc.name.as_str()),
                client,
                metrics: metrics.route(&rc.name),
            });
        }
        Ok(Runtime {
            table: RouteTable::new(&config.routes),
            identity_strip: IdentityHeaderSet::for_routes(&config.routes),
            routes,
            config: Arc::new(config),
        })
    }

    /// `None` when ready to serve; otherwise why not (for /readyz).
    pub fn not_ready_reason(&self) -> Option<String> {
        None
    }
}

/// The process-wide gateway state: the current snapshot and the metrics registry.
pub struct Gateway {
    current: ArcSwap<Runtime>,
    /// The metrics registry (lives across reloads).
    pub metrics: Arc<Metrics>,
}

impl Gateway {
    /// Builds the first snapshot.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Result<Gateway, BuildError> {
        let rt = Runtime::build(config, None, &metrics)?;
        Ok(Gateway {
            current: ArcSwap::from_pointee(rt),
            metrics,
        })
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// Builds a new snapshot from the current one and swaps it in; on error the current
    /// snapshot stays.
    pub fn apply(&self, config: Config) -> Result<(), BuildError> {
        let old = self.current.load_full();
        let new = Runtime::build(config, Some(&old), &self.metrics)?;
        self.current.store(Arc::new(new));
        Ok(())
    }
}
