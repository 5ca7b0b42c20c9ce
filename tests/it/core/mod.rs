//! Gateway core: routing, forwarding, listener behaviour, reload, CLI.

mod cli;
mod connections;
mod forwarding;
mod lenient_upstreams;
mod own_server;
mod reload;
mod request_trailers;
mod response_timeout;
mod routing;
mod server;
mod slow_client;
mod upstream_fields;
mod upstream_pool;
mod workers;
