//! Validation of `tracing:`: the collector URL (http or https, no credentials or query
//! in it: API keys go in `headers`), the sampling ratio, the export bounds, the collector
//! header fields. A header value is never echoed in a message (it may be an API key).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};

use super::model::Secret;
use super::model::TracingConfig;
use super::raw::RawTracing;
use super::validate::Ctx;

/// The OTLP/HTTP path of traces (OTLP specification, "OTLP/HTTP Request").
const TRACES_PATH: &str = "/v1/traces";
const DEFAULT_SERVICE: &str = "portcullis";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_DELAY: Duration = Duration::from_secs(5);
/// The OpenTelemetry SDKs' batch processor defaults.
const DEFAULT_QUEUE: u64 = 2048;
const DEFAULT_BATCH: u64 = 512;
/// A queue past this is a typo, not a plan (each span is a few hundred bytes).
const MAX_QUEUE: u64 = 1_000_000;
/// Fields the exporter writes itself or that HTTP framing owns.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
    "connection",
    "te",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "trailer",
];

/// Validates `tracing`.
pub(crate) fn tracing(cx: &mut Ctx<'_>, raw: RawTracing) -> TracingConfig {
    let endpoint = match raw.otlp_endpoint.as_deref().map(str::trim) {
        None | Some("") => {
            cx.push(
                "tracing.otlp_endpoint",
                "is required (the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318)",
            );
            Uri::from_static("http://127.0.0.1:4318/v1/traces")
        }
        Some(s) => endpoint(cx, s),
    };
    let sample_ratio = match raw.sample_ratio.as_deref().map(str::trim) {
        None => 1.0,
        Some(s) => match s.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                cx.push(
                    "tracing.sample_ratio",
                    "must be a number from 0 to 1 (0.01 = one new trace in a hundred)",
                );
                0.0
            }
        },
    };
    let service_name = raw
        .service_name
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_owned());
    if service_name.is_empty() {
        cx.push("tracing.service_name", "must not be empty");
    }
    let headers = headers(cx, &raw.headers);
    let timeout = raw
        .timeout
        .as_deref()
        .map_or(DEFAULT_TIMEOUT, |s| cx.duration("tracing.timeout", s, true));
    let batch_delay = raw.batch_delay.as_deref().map_or(DEFAULT_DELAY, |s| {
        cx.duration("tracing.batch_delay", s, true)
    });
    let ca_file = cx.file("tracing.ca_file", raw.ca_file.as_deref());
    let queue_size = raw.queue_size.unwrap_or(DEFAULT_QUEUE);
    if queue_size == 0 || queue_size > MAX_QUEUE {
        cx.push(
            "tracing.queue_size",
            format!("must be from 1 to {MAX_QUEUE} spans"),
        );
    }
    let batch_size = raw
        .batch_size
        .unwrap_or(DEFAULT_BATCH.min(queue_size.max(1)));
    if batch_size == 0 || batch_size > queue_size {
        cx.push(
            "tracing.batch_size",
            "must be at least 1 and at most tracing.queue_size",
        );
    }
    for key in raw.resource.keys() {
        let path = format!("tracing.resource.{key}");
        if key.trim().is_empty() {
            cx.push("tracing.resource", "attribute names must not be empty");
        } else if key == "service.name" {
            cx.push(&path, "set it with tracing.service_name");
        }
    }
    TracingConfig {
        endpoint,
        sample_ratio,
        service_name,
        headers,
        timeout,
        ca_file,
        queue_size: usize::try_from(queue_size).unwrap_or(usize::MAX),
        batch_size: usize::try_from(batch_size).unwrap_or(usize::MAX),
        batch_delay,
        resource: raw.resource,
    }
}

/// `http(s)://host[:port][/base]` → the URL spans are POSTed to.
fn endpoint(cx: &mut Ctx<'_>, s: &str) -> Uri {
    const PATH: &str = "tracing.otlp_endpoint";
    let fallback = Uri::from_static("http://127.0.0.1:4318/v1/traces");
    let Ok(uri) = s.parse::<Uri>() else {
        cx.push(PATH, "is not a URL");
        return fallback;
    };
    let Some(authority) = uri.authority() else {
        cx.push(PATH, "must be an absolute http:// or https:// URL");
        return fallback;
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        cx.push(PATH, "must be an http:// or https:// URL (OTLP/HTTP)");
        return fallback;
    }
    if authority.as_str().contains('@') {
        cx.push(
            PATH,
            "must not carry credentials; put an API key in tracing.headers",
        );
        return fallback;
    }
    if uri.query().is_some() {
        cx.push(PATH, "must not have a query");
        return fallback;
    }
    let base = uri.path().trim_end_matches('/');
    let path = if base.ends_with(TRACES_PATH) {
        base.to_owned()
    } else {
        format!("{base}{TRACES_PATH}")
    };
    let scheme = uri.scheme_str().unwrap_or("http");
    match format!("{scheme}://{authority}{path}").parse::<Uri>() {
        Ok(full) => full,
        Err(_) => {
            cx.push(PATH, "is not a URL");
            fallback
        }
    }
}

fn headers(
    cx: &mut Ctx<'_>,
    raw: &std::collections::BTreeMap<String, String>,
) -> Vec<(HeaderName, Secret)> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let path = format!("tracing.headers.{name}");
        let Ok(header) = HeaderName::from_bytes(name.trim().as_bytes()) else {
            cx.push(&path, "is not a valid header name");
            continue;
        };
        if RESERVED.contains(&header.as_str()) {
            cx.push(&path, "is set by the exporter or by HTTP itself");
            continue;
        }
        if HeaderValue::from_str(value).is_err() {
            // Never echo the value: it may be an API key.
            cx.push(&path, "the value is not a valid header value");
            continue;
        }
        out.push((header, Secret::new(value.clone())));
    }
    out
}

#[cfg(test)]
mod tests;
