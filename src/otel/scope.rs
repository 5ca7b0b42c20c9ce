//! The spans one sampled request records, and the task-local scope through which code
//! deep in the call tree (the identity-provider client, the Redis connection) adds its
//! child spans without being handed anything: [`child`] returns `None` outside a
//! sampled request's scope, so an unsampled request pays one task-local lookup there.
//!
//! A child span is recorded when its guard is dropped, so a call cut short (a timeout, a
//! client gone) still shows, marked `cancelled`. A request records at most
//! [`MAX_CHILDREN`] child spans: a runaway loop cannot grow its trace without bound.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::futures::TaskLocalFuture;

use super::ids::{span_id, SpanId, TraceId};
use super::span::{now_nanos, SpanData, SpanKind, Value};

/// Most child spans one request records; later ones are not kept.
pub const MAX_CHILDREN: usize = 64;

/// The children one sampled request has finished so far.
#[derive(Debug)]
pub struct Recorder {
    trace_id: TraceId,
    /// The server span: the parent of every child.
    parent: SpanId,
    spans: Mutex<Vec<SpanData>>,
}

impl Recorder {
    /// A recorder for the request whose server span is `parent`.
    pub fn new(trace_id: TraceId, parent: SpanId) -> Recorder {
        Recorder {
            trace_id,
            parent,
            spans: Mutex::new(Vec::new()),
        }
    }

    /// The trace the children belong to.
    pub fn trace_id(&self) -> &TraceId {
        &self.trace_id
    }

    /// Starts a child span of the request's server span.
    pub fn child(self: &Arc<Self>, name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Child {
        Child {
            rec: self.clone(),
            span: SpanData {
                span_id: span_id(),
                parent: Some(self.parent),
                remote_parent: false,
                name: name.into(),
                kind,
                start: now_nanos(),
                end: 0,
                attrs: Vec::new(),
                error: None,
            },
            finished: false,
        }
    }

    fn push(&self, span: SpanData) {
        if let Ok(mut spans) = self.spans.lock() {
            if spans.len() < MAX_CHILDREN {
                spans.push(span);
            }
        }
    }

    /// Takes the finished children out.
    pub fn take(&self) -> Vec<SpanData> {
        self.spans
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

tokio::task_local! {
    static CURRENT: Arc<Recorder>;
}

/// Runs `fut` with `rec` as the recorder [`child`] finds. A plain function returning
/// tokio's scope future, not an `async fn`: an async wrapper stores the future it is given
/// twice (as its argument and in its await state), which doubled the request's future.
pub fn scope<F: Future>(rec: Arc<Recorder>, fut: F) -> TaskLocalFuture<Arc<Recorder>, F> {
    CURRENT.scope(rec, fut)
}

/// Whether the task serves a sampled request (its [`child`] spans are recorded).
pub fn recording() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// Starts a child span of the current request's server span; `None` when the task
/// serves no sampled request (no trace, not sampled, or background work).
pub fn child(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Option<Child> {
    CURRENT.try_with(|rec| rec.child(name, kind)).ok()
}

/// A child span being timed; recorded when dropped.
#[derive(Debug)]
pub struct Child {
    rec: Arc<Recorder>,
    span: SpanData,
    finished: bool,
}

impl Child {
    /// Its span id (the parent id a callee's `traceparent` names).
    pub fn span_id(&self) -> &SpanId {
        &self.span.span_id
    }

    /// Sets an attribute (semantic-convention keys; never a token, cookie or secret).
    pub fn attr(&mut self, key: &'static str, value: impl Into<Value>) {
        self.span.attrs.push((key, value.into()));
    }

    /// Marks the span failed, with a short, secret-free reason.
    pub fn fail(&mut self, reason: impl Into<Cow<'static, str>>) {
        self.span.error = Some(reason.into());
    }

    /// Ends the span now.
    pub fn end(mut self) {
        self.finished = true;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let mut span = std::mem::replace(
            &mut self.span,
            SpanData {
                span_id: [0; 8],
                parent: None,
                remote_parent: false,
                name: Cow::Borrowed(""),
                kind: SpanKind::Internal,
                start: 0,
                end: 0,
                attrs: Vec::new(),
                error: None,
            },
        );
        span.end = now_nanos().max(span.start);
        if !self.finished && span.error.is_none() {
            span.error = Some(Cow::Borrowed("cancelled"));
        }
        self.rec.push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn children_are_recorded_in_scope_only() {
        assert!(child("outside", SpanKind::Client).is_none());
        let rec = Arc::new(Recorder::new([1; 16], [2; 8]));
        scope(rec.clone(), async {
            let mut c = child("idp jwks", SpanKind::Client).expect("in scope");
            c.attr("http.response.status_code", 200u16);
            c.end();
            // Dropped without end(): recorded as cut short.
            drop(child("redis GET", SpanKind::Client));
        })
        .await;
        let spans = rec.take();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].name, "idp jwks");
        assert_eq!(spans[0].parent, Some([2; 8]));
        assert_eq!(spans[0].error, None);
        assert!(spans[0].end >= spans[0].start);
        assert_eq!(spans[1].error.as_deref(), Some("cancelled"));
        assert!(child("after", SpanKind::Client).is_none());
    }

    #[test]
    fn a_request_keeps_a_bounded_number_of_children() {
        let rec = Arc::new(Recorder::new([1; 16], [2; 8]));
        for _ in 0..MAX_CHILDREN + 10 {
            rec.child("x", SpanKind::Internal).end();
        }
        assert_eq!(rec.take().len(), MAX_CHILDREN);
    }
}
