//! `tracing:`: distributed tracing (OpenTelemetry, OTLP/HTTP), validated.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, Uri};

use super::Secret;

/// `tracing:`; absent = no tracing at all (no `traceparent` is read or sent).
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    /// Where spans are POSTed: `otlp_endpoint` with `/v1/traces` appended (unless it
    /// already ends with it).
    pub endpoint: Uri,
    /// Share of new traces recorded, 0.0 to 1.0 (a trusted proxy's sampled flag decides
    /// for the traces it started).
    pub sample_ratio: f64,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Fields sent with every export (a collector API key); values are secrets.
    pub headers: Vec<(HeaderName, Secret)>,
    /// Bound of one export request.
    pub timeout: Duration,
    /// Extra CA for an https collector.
    pub ca_file: Option<PathBuf>,
    /// Finished spans that may wait for export; past it spans are dropped and counted.
    pub queue_size: usize,
    /// Spans that trigger an export before `batch_delay` is over.
    pub batch_size: usize,
    /// Longest a finished span waits for its export.
    pub batch_delay: Duration,
    /// Extra resource attributes (`deployment.environment.name: prod`).
    pub resource: BTreeMap<String, String>,
}
