//! portcullis: an authenticating reverse proxy gateway.
//!
//! The request path lives in [`pipeline::handle`]; the state a request reads comes from
//! one immutable [`runtime::Runtime`] snapshot. This crate never uses `unsafe`.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod assertion;
pub mod auth;
pub mod config;
pub mod echo;
pub mod error;
pub mod idp;
pub mod metrics;
pub mod oidc;
pub mod otel;
pub mod pipeline;
pub mod proxy;
pub mod ratelimit;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod session;
pub mod transport;
pub mod urlpath;
