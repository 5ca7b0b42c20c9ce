//! The access log: one line per request, at nginx's price.
//!
//! A line is formatted straight into a per-worker buffer (no intermediate `String`, no
//! `tracing` event) and written by a thread of its own ([`writer`]), so a worker never
//! waits for standard output: when the writer cannot keep up (a stalled log collector),
//! lines past a bounded backlog are dropped and counted
//! (`portcullis_access_log_dropped_total`) instead of blocking requests.
//!
//! `log.access: off` turns it off; it is independent of `log.level`, which governs the
//! diagnostic log. Nothing is written until `main` installs the writer ([`install`]), so
//! the library and its tests log no access lines. Fields: method, host, path (never the
//! query), route, status, duration, bytes, request id, trace id, user, error; never tokens,
//! cookies or secrets. Every value is escaped, so no field can forge a line.

mod format;
mod writer;

use std::fmt::Display;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

pub use format::Format;
use writer::Writer;

/// The installed writer, if `main` installed one.
static WRITER: OnceLock<Writer> = OnceLock::new();

/// One request's access record.
pub struct Record<'a> {
    /// Request method.
    pub method: &'a str,
    /// Host the request was for (`-` when unknown).
    pub host: &'a str,
    /// Request path, without the query.
    pub path: &'a str,
    /// Matched route name (`-` when none).
    pub route: &'a str,
    /// Response status (499: the client went away first).
    pub status: u16,
    /// Time from the request head to the end of the response body.
    pub duration: Duration,
    /// Response body bytes sent.
    pub bytes: u64,
    /// The request id.
    pub request_id: &'a str,
    /// The W3C trace id (32 hex digits) when tracing is on, sampled or not: the upstream
    /// got it in `traceparent`, so its own logs carry the same id.
    pub trace_id: Option<&'a str>,
    /// The principal's username or subject (`-` when none).
    pub user: &'a str,
    /// The failure, for responses the gateway chose because of one.
    pub error: Option<&'a dyn Display>,
}

/// Starts the writer thread: access lines go to `sink` in `format` from now on. Only the
/// first call in a process takes effect (returns false for the others).
pub fn install(format: Format, sink: Box<dyn Write + Send>) -> std::io::Result<bool> {
    if WRITER.get().is_some() {
        return Ok(false);
    }
    let writer = Writer::start(format, sink)?;
    Ok(WRITER.set(writer).is_ok())
}

/// Appends `record`'s line; false when it had to be dropped (the backlog is full).
/// Does nothing (true) when no writer is installed.
pub fn log(record: &Record<'_>) -> bool {
    match WRITER.get() {
        Some(w) => w.append(record),
        None => true,
    }
}

/// Whether a writer is installed (lines are written at all).
pub fn installed() -> bool {
    WRITER.get().is_some()
}

/// Writes every buffered line now (at exit, so the last requests are not lost).
pub fn flush() {
    if let Some(w) = WRITER.get() {
        w.flush();
    }
}
