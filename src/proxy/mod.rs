//! Upstream forwarding: the pooled clients, header hygiene, TLS to upstreams.

pub mod client;
pub mod forward;
pub mod headers;
pub mod pool;
pub mod slab;
pub mod tls;
