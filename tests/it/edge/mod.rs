//! The edge a browser app or a gRPC client expects (issue 18): CORS per route (preflights
//! answered before authentication, fields on every response including the gateway's own
//! denials) and gRPC-shaped denials over HTTP/2 and HTTP/1.1.

mod cors;
mod grpc;
mod grpc_h2c;
mod grpc_library;
