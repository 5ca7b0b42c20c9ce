//! The metrics of machine credentials: API key checks and key-file reloads, DPoP proof
//! outcomes, RFC 9728 documents served. Labels are source and route names and fixed
//! words — never a key, a key hash, a token or a `jti`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// The handles; cheap to clone (each is an `Arc` inside).
#[derive(Clone)]
pub struct MachineMetrics {
    /// API key checks by source (empty when no source knows the key) and outcome
    /// (`ok`, `expired`, `unknown`).
    pub api_key_checks: IntCounterVec,
    /// Key-file (re)loads by source and result (`ok`, `error`).
    pub api_key_reloads: IntCounterVec,
    /// Keys currently loaded, by source.
    pub api_keys_loaded: IntGaugeVec,
    /// DPoP proof outcomes by route and outcome (`ok`, `htu`, `replay`, `downgrade`…).
    pub dpop_proofs: IntCounterVec,
    /// RFC 9728 documents served, by route.
    pub resource_metadata: IntCounterVec,
}

impl MachineMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<MachineMetrics, prometheus::Error> {
        let api_key_checks = IntCounterVec::new(
            Opts::new(
                "api_key_checks_total",
                "API key checks by source and outcome",
            ),
            &["source", "outcome"],
        )?;
        let api_key_reloads = IntCounterVec::new(
            Opts::new(
                "api_key_reloads_total",
                "API key file loads by source and result (an error keeps the old keys)",
            ),
            &["source", "result"],
        )?;
        let api_keys_loaded = IntGaugeVec::new(
            Opts::new("api_keys_loaded", "API keys currently loaded, by source"),
            &["source"],
        )?;
        let dpop_proofs = IntCounterVec::new(
            Opts::new(
                "dpop_proofs_total",
                "DPoP (RFC 9449) checks of token requests by route and outcome",
            ),
            &["route", "outcome"],
        )?;
        let resource_metadata = IntCounterVec::new(
            Opts::new(
                "protected_resource_metadata_total",
                "RFC 9728 protected resource metadata documents served, by route",
            ),
            &["route"],
        )?;
        registry.register(Box::new(api_key_checks.clone()))?;
        registry.register(Box::new(api_key_reloads.clone()))?;
        registry.register(Box::new(api_keys_loaded.clone()))?;
        registry.register(Box::new(dpop_proofs.clone()))?;
        registry.register(Box::new(resource_metadata.clone()))?;
        Ok(MachineMetrics {
            api_key_checks,
            api_key_reloads,
            api_keys_loaded,
            dpop_proofs,
            resource_metadata,
        })
    }
}
