//! Gateway core: routing, forwarding, listener behaviour, reload, CLI.

pub mod access_log;
mod cli;
mod connections;
mod connections_more;
mod cookie_guard;
mod forwarding;
mod http1;
mod layering;
mod lenient_upstreams;
mod oneshot;
mod reload;
mod request_trailers;
mod response_timeout;
mod response_trailers;
mod routing;
mod server;
mod slow_client;
mod upstream_fields;
mod upstream_h1;
mod upstream_h2c;
mod upstream_pool;
mod upstream_tls;
mod workers;
