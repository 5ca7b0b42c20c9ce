//! Per-provider runtime (in progress).
