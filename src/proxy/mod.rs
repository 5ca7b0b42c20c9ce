//! Upstream forwarding: the pooled client, header hygiene, TLS to upstreams.

pub mod client;
pub mod forward;
pub mod headers;
pub mod tls;
