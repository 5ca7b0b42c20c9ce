//! The edge a browser app or a gRPC client expects (issue 18): CORS per route (preflights
//! answered before authentication, fields on every response including the gateway's own
//! denials), gRPC-shaped denials over HTTP/2 and HTTP/1.1, and distributed tracing
//! (OpenTelemetry spans exported to an OTLP receiver, W3C trace context; the userinfo
//! call's span in `trace_userinfo.rs`).

mod cors;
mod cors_limits;
mod grpc;
mod grpc_h2c;
mod grpc_library;
mod trace_userinfo;
mod traces;
mod traces_more;
