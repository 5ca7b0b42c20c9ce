//! Upstream forwarding: the pooled client, header hygiene, TLS to upstreams.

pub mod client;
// LEAD-WIP pub mod forward;
pub mod headers;
pub mod tls;
