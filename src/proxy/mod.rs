//! Upstream forwarding: the pooled clients, header hygiene, TLS to upstreams.

pub mod forward;
pub mod headers;
pub mod slab;
