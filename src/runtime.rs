//! The runtime snapshot: everything one request reads (config, route table, upstream
//! pools, providers, caches), built once per config version and swapped atomically.
//!
//! A request loads the snapshot once and uses only it, so a reload never gives one
//! request half of an old and half of a new config. Nothing here is mutated after build.

mod machine;
mod snapshot;
pub use machine::{MachineState, ResourceDocument, RouteMachine};
pub use snapshot::Snapshot;

use std::sync::Arc;

use arc_swap::ArcSwap;
use thiserror::Error;

use tokio_util::sync::CancellationToken;

use crate::auth::identity::IdentityHeaders;
use crate::auth::wanted::WantedClaims;
use crate::config::{Config, RateLimitStore, RouteConfig};
use crate::metrics::{Metrics, RouteMetrics};
use crate::oidc::provider::{ProviderError, ProviderRuntime};
use crate::proxy::headers::IdentityHeaderSet;
use crate::ratelimit::{RouteLimits, SharedStore};
use crate::routing::table::RouteTable;
use crate::transport::tls::TlsError;
use crate::transport::upstream::client::{self, UpstreamClient};

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
    /// A route's identity header templates do not compile.
    #[error("routes[{index}] ({name}).identity_headers: {reason}")]
    Identity {
        /// Route index.
        index: usize,
        /// Route name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A provider's runtime could not be built.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Browser SSO could not be set up.
    #[error(transparent)]
    Sso(#[from] crate::oidc::sso::SsoError),
    /// The shared rate-limit store could not be set up (the message never names the URL).
    #[error("rate_limit_store: {0}")]
    RateLimitStore(String),
    /// A signing key or a token-exchange client credential is unusable.
    #[error("{path}: {reason}")]
    Credentials {
        /// The config path (`signing_keys[0].file`).
        path: String,
        /// What is wrong (never key material).
        reason: String,
    },
    /// The trace exporter could not be set up.
    #[error(transparent)]
    Tracing(#[from] crate::otel::TracerError),
    /// An API key file (or the DPoP nonce key) is unusable.
    #[error("{0}")]
    Machine(String),
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
    /// Its compiled identity header templates.
    pub identity: IdentityHeaders,
    /// The claims its templates and `allow` rules read (`userinfo: auto`).
    pub wanted: WantedClaims,
    /// An upstream `Set-Cookie` naming a gateway cookie has been logged for this route
    /// (logged once per route and configuration; every one is counted).
    pub cookie_guard_logged: std::sync::atomic::AtomicBool,
    /// Its rate limits (buckets kept across reloads).
    pub limits: RouteLimits,
    /// Its signed identity assertion, if it sends one.
    pub assertion: Option<crate::assertion::RouteAssertion>,
    /// Its RFC 8693 token exchange, if it makes one.
    pub exchange: Option<crate::oidc::exchange::TokenExchanger>,
    /// Its API key, DPoP and RFC 9728 settings.
    pub machine: RouteMachine,
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
    /// Provider runtimes, indexed like `config.providers` (shared across snapshots
    /// while a provider's config is unchanged, so caches survive reloads).
    pub providers: Vec<Arc<ProviderRuntime>>,
    /// Browser SSO (sessions), when `session.secrets` is configured.
    pub sso: Option<crate::oidc::sso::Sso>,
    /// The metrics registry (the process's; reached through the snapshot a request
    /// already holds, so that a request takes no reference of its own).
    pub metrics: Arc<Metrics>,
    /// The shared rate-limit store (`rate_limit_store: redis`), kept across reloads
    /// while `session.redis.url` stays.
    pub rate_limit_store: Option<Arc<SharedStore>>,
    /// The identity-assertion keys (and the JWKS), when a route signs or keys are set.
    pub signing: Option<Arc<crate::assertion::KeyRing>>,
    /// Distributed tracing, when `tracing:` is configured (shared with the previous
    /// snapshot while its configuration is unchanged).
    pub tracer: Option<Arc<crate::otel::Tracer>>,
    /// API keys, DPoP state and RFC 9728 documents.
    pub machine: MachineState,
}

/// What building a snapshot needs besides the config.
pub struct BuildContext<'a> {
    /// The metrics registry.
    pub metrics: &'a Arc<Metrics>,
    /// Cancelled at process shutdown; stops provider background tasks.
    pub stop: &'a CancellationToken,
}

impl Runtime {
    /// The Authorization schemes `route` challenges with: its provider's
    /// `tokens.schemes` (unless `dpop: required`), `dpop`, `apikey`; empty for routes
    /// without credentials.
    pub fn accepted_schemes<'r>(&self, route: &'r RouteRuntime) -> &'r [String] {
        &route.machine.challenge_schemes
    }

    /// Builds a snapshot from `config`, reusing what `previous` has for unchanged parts.
    pub fn build(
        config: Config,
        previous: Option<&Runtime>,
        ctx: &BuildContext<'_>,
    ) -> Result<Runtime, BuildError> {
        let metrics = ctx.metrics;
        let mut providers = Vec::with_capacity(config.providers.len());
        for pc in &config.providers {
            let reused = previous.and_then(|p| {
                p.providers
                    .iter()
                    .find(|r| r.name() == pc.name && r.can_reuse(pc))
                    .cloned()
            });
            let provider = match reused {
                Some(p) => p,
                None => {
                    let observer: Arc<dyn crate::idp::observe::ProviderObserver> = metrics.clone();
                    let p = Arc::new(ProviderRuntime::new(pc.clone(), observer)?);
                    p.spawn_refresh(ctx.stop.clone().cancelled_owned());
                    p
                }
            };
            providers.push(provider);
        }
        let rate_limit_store = rate_limit_store(&config, previous)?;
        let signing = crate::assertion::KeyRing::build(
            &config,
            previous.and_then(|p| p.signing.as_deref()),
            crate::session::unix_now(),
        )
        .map_err(|e| BuildError::Credentials {
            path: e.path,
            reason: e.reason,
        })?
        .map(Arc::new);
        let issuer = config
            .server
            .public_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
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
                None => client::build(rc, metrics.pool(&rc.name)).map_err(|source| {
                    BuildError::UpstreamTls {
                        index,
                        name: rc.name.clone(),
                        source,
                    }
                })?,
            };
            let identity = IdentityHeaders::compile(&rc.identity_headers).map_err(|reason| {
                BuildError::Identity {
                    index,
                    name: rc.name.clone(),
                    reason,
                }
            })?;
            let wanted = WantedClaims::for_route(rc, &identity);
            let name = Arc::from(rc.name.as_str());
            let previous_limits = previous
                .and_then(|p| p.routes.iter().find(|r| r.config.name == rc.name))
                .map(|r| &r.limits);
            let limits = RouteLimits::build(
                rc,
                &name,
                previous_limits,
                rate_limit_store.as_ref(),
                metrics,
            );
            let name: Arc<str> = Arc::from(rc.name.as_str());
            let assertion = rc.identity_assertion.as_ref().map(|a| {
                let m = metrics.assertion(&rc.name);
                crate::assertion::RouteAssertion::new(a, name.clone(), &issuer, m)
            });
            let exchange = match rc
                .token_exchange
                .as_ref()
                .map(|t| (t, providers.get(t.provider)))
            {
                Some((t, Some(p))) => Some(
                    crate::oidc::exchange::TokenExchanger::new(
                        t,
                        p.clone(),
                        metrics.exchange(&rc.name),
                    )
                    .map_err(|e| BuildError::Credentials {
                        path: format!("routes[{index}].token_exchange"),
                        reason: e.to_string(),
                    })?,
                ),
                _ => None,
            };
            routes.push(RouteRuntime {
                assertion,
                exchange,
                wanted,
                config: rc.clone(),
                name,
                client,
                metrics: metrics.route(&rc.name),
                identity,
                cookie_guard_logged: std::sync::atomic::AtomicBool::new(false),
                limits,
                machine: RouteMachine::build(&config, rc),
            });
        }
        let sso = crate::oidc::sso::Sso::build(&config)?;
        let tracer = match &config.tracing {
            None => None,
            Some(tc) => match previous.and_then(|p| p.tracer.as_ref()) {
                Some(t) if t.config() == tc => Some(t.clone()),
                _ => Some(Arc::new(crate::otel::Tracer::new(tc, metrics.tracing())?)),
            },
        };
        let machine = MachineState::build(&config, previous.map(|p| &p.machine), metrics, ctx.stop)
            .map_err(BuildError::Machine)?;
        Ok(Runtime {
            signing,
            sso,
            tracer,
            machine,
            metrics: ctx.metrics.clone(),
            table: RouteTable::new(&config.routes),
            identity_strip: IdentityHeaderSet::for_routes(&config.routes),
            routes,
            providers,
            config: Arc::new(config),
            rate_limit_store,
        })
    }

    /// `None` when ready to serve; otherwise why not (for /readyz).
    pub fn not_ready_reason(&self) -> Option<String> {
        let redis = self.sso.as_ref().and_then(|s| s.redis.as_ref());
        if let Some(why) = redis.and_then(|r| r.not_ready_reason()) {
            return Some(why);
        }
        let waiting: Vec<&str> = self
            .providers
            .iter()
            .filter(|p| !p.is_ready())
            .map(|p| p.name())
            .collect();
        if waiting.is_empty() {
            None
        } else {
            Some(format!(
                "provider(s) not yet discovered: {}",
                waiting.join(", ")
            ))
        }
    }
}

/// The shared rate-limit store `config` asks for: the previous snapshot's while it
/// serves the same URL (its connection survives the reload), else a new one.
fn rate_limit_store(
    config: &Config,
    previous: Option<&Runtime>,
) -> Result<Option<Arc<SharedStore>>, BuildError> {
    let url = match (config.rate_limit_store, &config.session.redis_url) {
        (RateLimitStore::Redis, Some(url)) => url,
        _ => return Ok(None),
    };
    let kept = previous
        .and_then(|p| p.rate_limit_store.as_ref())
        .filter(|s| s.serves(url));
    match kept {
        Some(store) => Ok(Some(store.clone())),
        None => SharedStore::new(url)
            .map(Some)
            .map_err(BuildError::RateLimitStore),
    }
}

/// The process-wide gateway state: the current snapshot and the metrics registry.
pub struct Gateway {
    /// Names this gateway's handles in the worker threads (`snapshot::local`).
    id: u64,
    current: ArcSwap<Runtime>,
    /// The metrics registry (lives across reloads).
    pub metrics: Arc<Metrics>,
    stop: CancellationToken,
}

impl Gateway {
    /// Builds the first snapshot.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Result<Gateway, BuildError> {
        let stop = CancellationToken::new();
        let ctx = BuildContext {
            metrics: &metrics,
            stop: &stop,
        };
        let rt = Runtime::build(config, None, &ctx)?;
        Ok(Gateway {
            id: snapshot::next_id(),
            current: ArcSwap::from_pointee(rt),
            metrics,
            stop,
        })
    }

    /// Stops background work (provider refresh) at shutdown.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// The current snapshot for a request served on this thread (see [`Snapshot`]).
    pub fn request_snapshot(&self) -> Snapshot {
        snapshot::local(self.id, &self.current)
    }

    /// Builds a new snapshot from the current one and swaps it in; on error the current
    /// snapshot stays.
    pub fn apply(&self, config: Config) -> Result<(), BuildError> {
        let old = self.current.load_full();
        let ctx = BuildContext {
            metrics: &self.metrics,
            stop: &self.stop,
        };
        let new = Runtime::build(config, Some(&old), &ctx)?;
        self.current.store(Arc::new(new));
        Ok(())
    }
}
