//! `tracing:` as written (the serde mirror; see `validate_tracing.rs` for the checks).

use std::collections::BTreeMap;

use serde::Deserialize;

/// `tracing:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTracing {
    pub otlp_endpoint: Option<String>,
    /// `None` = 1.0 (every new trace).
    pub sample_ratio: Option<String>,
    pub service_name: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub timeout: Option<String>,
    pub ca_file: Option<String>,
    pub queue_size: Option<u64>,
    pub batch_size: Option<u64>,
    pub batch_delay: Option<String>,
    pub resource: BTreeMap<String, String>,
}
