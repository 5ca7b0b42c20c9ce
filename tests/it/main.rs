//! Integration tests: one binary, gateways on 127.0.0.1:0, in-process upstreams.
// Test code: a failed expectation must abort the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod bearer;
mod core;
mod deploy;
mod edge;
mod forward_auth;
mod machine;
mod ratelimit;
mod scale;
mod sso;
mod vouch;
