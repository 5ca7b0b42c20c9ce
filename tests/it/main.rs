//! Integration tests: one binary, gateways on 127.0.0.1:0, in-process upstreams.

// LEAD-WIP mod support;

// LEAD-WIP mod core;
