//! The one Prometheus registry and its typed handles. No metric name string appears
//! anywhere else in the crate; callers use the handles below. Label values are route and
//! provider names or fixed words — never user input, tokens or secrets.

mod histogram;
mod machine;
mod observe;
mod outcomes;
mod route;
pub use crate::transport::sharded::{Folds, ShardedCounter, ShardedGauge};
pub use histogram::{ShardedHistogram, ShardedHistogramVec};
pub use machine::MachineMetrics;
pub use outcomes::{AssertionMetrics, ExchangeMetrics};
pub use route::{RouteMetrics, STATUS_CLASSES};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds, from 250 µs (a cached auth hop) to 30 s (slow upstreams).
const LATENCY_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0,
];

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status class (`2xx`…).
    pub requests: IntCounterVec,
    /// Request latency by route (until the response body ends).
    pub latency: ShardedHistogramVec,
    /// Upstream failures by route and kind (`connect`, `timeout`, `protocol`).
    pub upstream_errors: IntCounterVec,
    /// Upstream connections opened by the plain-http pool, by route.
    pub upstream_connections: IntCounterVec,
    /// Requests sent again after a pooled upstream connection turned out stale, by route.
    pub upstream_retries: IntCounterVec,
    /// `Set-Cookie` fields of upstream responses dropped because they named one of the
    /// gateway's cookies, by route.
    pub upstream_cookies_dropped: IntCounterVec,
    /// Access log lines dropped because the writer could not keep up.
    pub access_log_dropped: IntCounter,
    /// Requests currently being served.
    pub in_flight: ShardedGauge,
    /// Open client connections.
    pub connections_open: IntGauge,
    /// Open HTTP/1 client connections waiting for their next request.
    pub connections_idle: IntGauge,
    /// Config reloads by result (`ok`, `error`).
    pub reloads: IntCounterVec,
    /// Authentication outcomes by route, method and outcome.
    pub auth: IntCounterVec,
    /// JWKS fetches by provider and result.
    pub jwks_fetches: IntCounterVec,
    /// Introspection calls by provider and result.
    pub introspections: IntCounterVec,
    /// Token cache lookups by provider, cache (`jwt`, `introspection`) and result.
    pub token_cache: IntCounterVec,
    /// Identity-provider call latency by provider and endpoint.
    pub idp_latency: HistogramVec,
    /// Uncached identity-provider calls refused by the provider's cap (answered 503),
    /// by provider and endpoint (`introspection`, `userinfo`).
    pub idp_throttled: IntCounterVec,
    /// Whether each provider has been discovered (1) or not (0).
    pub provider_ready: IntGaugeVec,
    /// CORS preflights answered by the gateway, by route and result (`allowed`, `refused`).
    pub cors_preflights: IntCounterVec,
    /// Denials answered in gRPC shape, by route (`-` before routing) and `grpc_status`
    /// name (`UNAUTHENTICATED`…).
    pub grpc_denials: IntCounterVec,
    /// Rate-limit decisions by route, key type and decision (`allowed`, `limited`).
    pub rate_limit: IntCounterVec,
    /// Rate-limit checks the local buckets answered because the shared store (Redis)
    /// did not, by route.
    pub rate_limit_fallback: IntCounterVec,
    /// Identity assertions by route and outcome (`signed`, `cache_hit`, `failure`).
    pub identity_assertions: IntCounterVec,
    /// RFC 8693 token exchanges by route and outcome (`exchanged`, `cache_hit`,
    /// `refused`, `unavailable`).
    pub token_exchanges: IntCounterVec,
    /// Logins started at a provider, by provider and what picked it (`parameter`,
    /// `hint`, `only`, `default`).
    pub login_starts: IntCounterVec,
    /// Login chooser pages shown, by the route the browser wants (`-` for none).
    pub login_choosers: IntCounterVec,
    /// Trace spans the collector accepted.
    pub tracing_spans_exported: IntCounter,
    /// Trace spans dropped, by reason (`queue_full`, `export_failed`).
    pub tracing_spans_dropped: IntCounterVec,
    /// API keys, DPoP and RFC 9728 outcomes.
    pub machine: MachineMetrics,
    /// The per-worker shards of the counters every request writes (`sharded`).
    folds: Folds,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("portcullis".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Requests by route and status class"),
            &["route", "status"],
        )?;
        let latency = ShardedHistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Request duration until the response body ends",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            "route",
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "upstream_errors_total",
                "Upstream failures by route and kind",
            ),
            &["route", "kind"],
        )?;
        let upstream_connections = IntCounterVec::new(
            Opts::new(
                "upstream_connections_opened_total",
                "Upstream connections opened by the keep-alive pool (plain-http upstreams)",
            ),
            &["route"],
        )?;
        let upstream_retries = IntCounterVec::new(
            Opts::new(
                "upstream_retries_total",
                "Requests sent again after a pooled upstream connection turned out stale",
            ),
            &["route"],
        )?;
        let upstream_cookies_dropped = IntCounterVec::new(
            Opts::new(
                "upstream_cookies_dropped_total",
                "Set-Cookie fields of upstream responses dropped: they named a gateway cookie",
            ),
            &["route"],
        )?;
        let access_log_dropped = IntCounter::new(
            "access_log_dropped_total",
            "Access log lines dropped: the log output could not keep up",
        )?;
        let in_flight = IntGauge::new("requests_in_flight", "Requests being served")?;
        let connections_open = IntGauge::new("connections_open", "Open client connections")?;
        let connections_idle = IntGauge::new(
            "connections_idle",
            "Open HTTP/1 client connections waiting for their next request",
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("config_reloads_total", "Configuration reloads by result"),
            &["result"],
        )?;
        let auth = IntCounterVec::new(
            Opts::new("auth_total", "Authentication outcomes"),
            &["route", "method", "outcome"],
        )?;
        let jwks_fetches = IntCounterVec::new(
            Opts::new("jwks_fetches_total", "JWKS fetches by provider and result"),
            &["provider", "result"],
        )?;
        let introspections = IntCounterVec::new(
            Opts::new(
                "introspections_total",
                "Introspection calls by provider and result",
            ),
            &["provider", "result"],
        )?;
        let token_cache = IntCounterVec::new(
            Opts::new("token_cache_total", "Token cache lookups"),
            &["provider", "cache", "result"],
        )?;
        let idp_latency = HistogramVec::new(
            HistogramOpts::new(
                "idp_request_duration_seconds",
                "Identity provider call latency",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["provider", "endpoint"],
        )?;
        let idp_throttled = IntCounterVec::new(
            Opts::new(
                "idp_calls_throttled_total",
                "Uncached identity-provider calls refused by the per-provider cap",
            ),
            &["provider", "endpoint"],
        )?;
        let provider_ready = IntGaugeVec::new(
            Opts::new("provider_ready", "1 once the provider has been discovered"),
            &["provider"],
        )?;
        let cors_preflights = IntCounterVec::new(
            Opts::new(
                "cors_preflights_total",
                "CORS preflights answered by the gateway, by route and result",
            ),
            &["route", "result"],
        )?;
        let grpc_denials = IntCounterVec::new(
            Opts::new(
                "grpc_denials_total",
                "Gateway denials answered to gRPC clients as a grpc-status, by route and status",
            ),
            &["route", "grpc_status"],
        )?;
        let rate_limit = IntCounterVec::new(
            Opts::new(
                "rate_limit_decisions_total",
                "Rate-limit decisions by route, key type and decision",
            ),
            &["route", "key", "decision"],
        )?;
        let rate_limit_fallback = IntCounterVec::new(
            Opts::new(
                "rate_limit_fallback_total",
                "Rate-limit checks answered by the local buckets because Redis did not answer",
            ),
            &["route"],
        )?;
        let identity_assertions = IntCounterVec::new(
            Opts::new(
                "identity_assertions_total",
                "Identity assertions by route and outcome",
            ),
            &["route", "outcome"],
        )?;
        let token_exchanges = IntCounterVec::new(
            Opts::new(
                "token_exchanges_total",
                "RFC 8693 token exchanges by route and outcome",
            ),
            &["route", "outcome"],
        )?;
        let login_starts = IntCounterVec::new(
            Opts::new(
                "login_starts_total",
                "Browser logins started at a provider, by provider and what picked it",
            ),
            &["provider", "picked_by"],
        )?;
        let login_choosers = IntCounterVec::new(
            Opts::new(
                "login_chooser_shown_total",
                "Login chooser pages shown (a route with several providers), by route",
            ),
            &["route"],
        )?;
        let tracing_spans_exported = IntCounter::new(
            "tracing_spans_exported_total",
            "Trace spans the OTLP collector accepted",
        )?;
        let tracing_spans_dropped = IntCounterVec::new(
            Opts::new(
                "tracing_spans_dropped_total",
                "Trace spans dropped: export queue full, or export failed or timed out",
            ),
            &["reason"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Build information (always 1)"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(upstream_connections.clone()))?;
        registry.register(Box::new(upstream_retries.clone()))?;
        registry.register(Box::new(upstream_cookies_dropped.clone()))?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_idle.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(auth.clone()))?;
        registry.register(Box::new(jwks_fetches.clone()))?;
        registry.register(Box::new(introspections.clone()))?;
        registry.register(Box::new(token_cache.clone()))?;
        registry.register(Box::new(idp_latency.clone()))?;
        registry.register(Box::new(idp_throttled.clone()))?;
        registry.register(Box::new(provider_ready.clone()))?;
        registry.register(Box::new(cors_preflights.clone()))?;
        registry.register(Box::new(grpc_denials.clone()))?;
        registry.register(Box::new(rate_limit.clone()))?;
        registry.register(Box::new(rate_limit_fallback.clone()))?;
        registry.register(Box::new(identity_assertions.clone()))?;
        registry.register(Box::new(token_exchanges.clone()))?;
        registry.register(Box::new(login_starts.clone()))?;
        registry.register(Box::new(login_choosers.clone()))?;
        registry.register(Box::new(tracing_spans_exported.clone()))?;
        registry.register(Box::new(tracing_spans_dropped.clone()))?;
        registry.register(Box::new(build_info))?;
        let machine = MachineMetrics::register(&registry)?;
        let folds = Folds::default();
        let in_flight = ShardedGauge::new(in_flight, &folds);
        Ok(Metrics {
            machine,
            registry,
            folds,
            requests,
            latency,
            upstream_errors,
            upstream_connections,
            upstream_retries,
            upstream_cookies_dropped,
            access_log_dropped,
            in_flight,
            connections_open,
            connections_idle,
            reloads,
            auth,
            jwks_fetches,
            introspections,
            token_cache,
            idp_latency,
            idp_throttled,
            provider_ready,
            cors_preflights,
            grpc_denials,
            rate_limit,
            rate_limit_fallback,
            identity_assertions,
            token_exchanges,
            login_starts,
            login_choosers,
            tracing_spans_exported,
            tracing_spans_dropped,
        })
    }

    /// The trace exporter's counters.
    pub fn tracing(&self) -> crate::otel::TraceMetrics {
        crate::otel::TraceMetrics {
            exported: self.tracing_spans_exported.clone(),
            dropped_queue_full: self
                .tracing_spans_dropped
                .with_label_values(&["queue_full"]),
            dropped_export_failed: self
                .tracing_spans_dropped
                .with_label_values(&["export_failed"]),
        }
    }

    /// The upstream pool counters of one route.
    pub fn pool(&self, route: &str) -> crate::transport::upstream::PoolMetrics {
        crate::transport::upstream::PoolMetrics {
            opened: self.upstream_connections.with_label_values(&[route]),
            retried: self.upstream_retries.with_label_values(&[route]),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Vec<u8> {
        self.folds.fold_all();
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
