//! Everything below the request decision: listeners, worker threads, TLS, HTTP/1 and
//! HTTP/2 serving, connection state and idle parking, request and response bodies, and
//! the upstream side (`upstream`: the pool and its HTTP/1 client codec). It never
//! decides what a request may do: that is the pipeline's.

pub mod conn;
pub mod h1;
pub mod handoff;
pub mod listener;
pub mod respond;
pub mod server_tls;
pub mod tls;
pub mod upstream;
pub mod workers;
