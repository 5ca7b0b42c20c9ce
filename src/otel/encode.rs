//! OTLP/protobuf encoding of spans: an `ExportTraceServiceRequest`
//! (opentelemetry-proto `collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`), written straight from the
//! proto field numbers: one resource, one instrumentation scope, the spans of every
//! batch. Encoding happens on the exporter's thread, never on a request's.

use super::span::{SpanData, TraceBatch, Value};

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `Span.flags`: the W3C trace flags (sampled) plus "whether the parent is remote is
/// known" (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`) and "it is"
/// (`SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`).
const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;
/// `Status.StatusCode.STATUS_CODE_ERROR`.
const STATUS_ERROR: u64 = 2;

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn uint(out: &mut Vec<u8>, field: u32, n: u64) {
    tag(out, field, VARINT);
    varint(out, n);
}

fn fixed64(out: &mut Vec<u8>, field: u32, n: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&n.to_le_bytes());
}

fn fixed32(out: &mut Vec<u8>, field: u32, n: u32) {
    tag(out, field, FIXED32);
    out.extend_from_slice(&n.to_le_bytes());
}

/// A length-delimited sub-message written in place: one byte is reserved for its
/// length and the body moved along in the rare case the length needs more.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    let mut prefix = Vec::with_capacity(10);
    varint(&mut prefix, len as u64);
    out.splice(at..=at, prefix);
}

fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    message(out, field, |kv| {
        bytes(kv, 1, key.as_bytes());
        message(kv, 2, |any| match value {
            Value::Str(s) => bytes(any, 1, s.as_bytes()),
            Value::Bool(b) => uint(any, 2, u64::from(*b)),
            // int64: two's complement, as protobuf encodes negative int64 varints.
            Value::Int(n) => uint(any, 3, *n as u64),
        });
    });
}

/// The body of a `Resource` message with `attrs` (service.name and the like), encoded
/// once per exporter.
pub fn resource(attrs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in attrs {
        key_value(&mut out, 1, k, &Value::from(v.clone()));
    }
    out
}

fn span(out: &mut Vec<u8>, trace: &TraceBatch, s: &SpanData) {
    message(out, 2, |m| {
        bytes(m, 1, &trace.trace_id);
        bytes(m, 2, &s.span_id);
        if let Some(state) = &trace.trace_state {
            bytes(m, 3, state.as_bytes());
        }
        if let Some(parent) = &s.parent {
            bytes(m, 4, parent);
        }
        bytes(m, 5, s.name.as_bytes());
        uint(m, 6, s.kind as u64);
        fixed64(m, 7, s.start);
        fixed64(m, 8, s.end);
        for (k, v) in &s.attrs {
            key_value(m, 9, k, v);
        }
        if let Some(reason) = &s.error {
            message(m, 15, |st| {
                bytes(st, 2, reason.as_bytes());
                uint(st, 3, STATUS_ERROR);
            });
        }
        let remote = if s.remote_parent { FLAG_IS_REMOTE } else { 0 };
        fixed32(m, 16, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | remote);
    });
}

/// The `ExportTraceServiceRequest` for `batches`, under one resource (`resource`, from
/// [`resource`]) and one instrumentation scope.
pub fn export_request(resource: &[u8], scope: (&str, &str), batches: &[TraceBatch]) -> Vec<u8> {
    let spans: usize = batches.iter().map(|b| b.spans.len()).sum();
    let mut out = Vec::with_capacity(256 + spans * 320);
    message(&mut out, 1, |rs| {
        bytes(rs, 1, resource);
        message(rs, 2, |ss| {
            message(ss, 1, |sc| {
                bytes(sc, 1, scope.0.as_bytes());
                bytes(sc, 2, scope.1.as_bytes());
            });
            for batch in batches {
                for s in &batch.spans {
                    span(ss, batch, s);
                }
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_nested_lengths() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        uint(&mut out, 3, (-1i64) as u64);
        assert_eq!(out.len(), 1 + 10, "negative int64 takes ten bytes");
        // A body of 200 bytes needs a two-byte length: the body moves, intact.
        out.clear();
        message(&mut out, 1, |m| m.extend(std::iter::repeat_n(7u8, 200)));
        assert_eq!(&out[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(out.len(), 203);
        assert!(out[3..].iter().all(|&b| b == 7));
    }
}
