//! A request's reference to the current snapshot, taken from a handle of its worker
//! thread's own.
//!
//! Every request holds the snapshot until its response ends. Cloning the one
//! `Arc<Runtime>` for each request would increment and decrement one reference count
//! from every worker thread: that count's cache line would move between cores twice
//! per request (measured with `perf` on 2 workers: the second largest shared-line
//! cost of the plain route). Each thread instead keeps its own `Arc` around the
//! snapshot's and hands out clones of that one; its count is written by this thread
//! only. The handle is replaced when the gateway's snapshot changes (a reload).
//!
//! Owns the per-thread handles; never decides what a snapshot holds.

use std::cell::RefCell;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::Runtime;

/// Gateways a thread keeps a handle for (tests build many gateways on one thread;
/// a process has one).
const HANDLES: usize = 4;

thread_local! {
    /// This thread's handle on the current snapshot of each gateway it served, by the
    /// gateway's id.
    static HANDLES_HERE: RefCell<Vec<(u64, Arc<Handle>)>> = const { RefCell::new(Vec::new()) };
}

/// A fresh gateway id.
pub(super) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A thread's handle: its own reference-counted box around the shared snapshot.
struct Handle {
    rt: Arc<Runtime>,
}

impl Handle {
    fn new(rt: Arc<Runtime>) -> Arc<Handle> {
        Arc::new(Handle { rt })
    }
}

/// The snapshot a request runs on (derefs to the [`Runtime`]).
#[derive(Clone)]
pub struct Snapshot(Arc<Handle>);

impl Deref for Snapshot {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.0.rt
    }
}

impl Snapshot {
    /// The snapshot itself, for what outlives the request.
    pub fn shared(&self) -> &Arc<Runtime> {
        &self.0.rt
    }
}

/// The current snapshot of the gateway `id` (whose snapshot cell is `current`), through
/// this thread's handle.
pub(super) fn local(id: u64, current: &ArcSwap<Runtime>) -> Snapshot {
    let now = current.load();
    HANDLES_HERE.with(|cell| {
        let Ok(mut handles) = cell.try_borrow_mut() else {
            return Snapshot(Handle::new(Guard::into_inner(now)));
        };
        if let Some(slot) = handles.iter_mut().find(|(g, _)| *g == id) {
            // Holding the handle keeps its snapshot alive, so an equal pointer is the
            // same snapshot, never a new one at a reused address.
            if !Arc::ptr_eq(&slot.1.rt, &*now) {
                slot.1 = Handle::new(Guard::into_inner(now));
            }
            return Snapshot(slot.1.clone());
        }
        if handles.len() == HANDLES {
            handles.remove(0);
        }
        let handle = Handle::new(Guard::into_inner(now));
        handles.push((id, handle.clone()));
        Snapshot(handle)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn runtime(yaml: &str) -> Runtime {
        let config = crate::config::load_str(yaml).unwrap();
        let metrics = Arc::new(crate::metrics::Metrics::new().unwrap());
        let stop = tokio_util::sync::CancellationToken::new();
        let ctx = crate::runtime::BuildContext {
            metrics: &metrics,
            stop: &stop,
        };
        Runtime::build(config, None, &ctx).unwrap()
    }

    #[tokio::test]
    async fn a_thread_shares_one_handle_until_the_snapshot_changes() {
        let cell = ArcSwap::from_pointee(runtime("routes: []"));
        let id = next_id();
        let a = local(id, &cell);
        let b = local(id, &cell);
        // One handle for both requests: its count is this thread's alone.
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(Arc::ptr_eq(a.shared(), &cell.load_full()));

        cell.store(Arc::new(runtime("routes: []")));
        let c = local(id, &cell);
        assert!(Arc::ptr_eq(c.shared(), &cell.load_full()));
        assert!(!Arc::ptr_eq(c.shared(), a.shared()));
        // A request that began before the change keeps its snapshot.
        assert!(Arc::ptr_eq(a.shared(), b.shared()));

        // Another gateway on this thread has a handle of its own.
        let other = ArcSwap::from_pointee(runtime("routes: []"));
        let d = local(next_id(), &other);
        assert!(Arc::ptr_eq(d.shared(), &other.load_full()));
        assert!(Arc::ptr_eq(local(id, &cell).shared(), c.shared()));
    }
}
