//! One introspection call per token at a time: concurrent cache misses of one token wait
//! for the call in flight and share its result, as moka's `future` entry API did, so the
//! verdicts themselves can live in a `moka::sync` cache (a hit then costs no future, no
//! async read recording and no async housekeeping).
//!
//! Owns only the table of calls in flight; the verdict cache and the call are the
//! introspector's. A call abandoned half-way (its request cancelled) is taken over by a
//! waiter, and a call nobody waits for any more leaves the table: it never grows with
//! cancelled requests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::auth::token_key::TokenHashing;

type Cell<T> = Arc<OnceCell<T>>;

/// The calls in flight, by token.
pub(super) struct Inflight<T> {
    calls: Mutex<HashMap<String, Cell<T>, TokenHashing>>,
}

impl<T: Clone> Inflight<T> {
    /// An empty table.
    pub(super) fn new() -> Self {
        Inflight {
            calls: Mutex::new(HashMap::with_hasher(TokenHashing::default())),
        }
    }

    /// The result for `key`: what `cached` finds (asked under the table's lock, so a
    /// result kept by a call that just ended is seen), else the result of the call in
    /// flight for `key`, else the result of `call`, which `keep` stores before the call
    /// leaves the table. The flag: whether `call` ran here.
    pub(super) async fn get<F>(
        &self,
        key: &str,
        cached: impl FnOnce() -> Option<T>,
        call: impl FnOnce() -> F,
        keep: impl FnOnce(&T),
    ) -> (T, bool)
    where
        F: Future<Output = T>,
    {
        let cell = {
            let Ok(mut calls) = self.calls.lock() else {
                // A poisoned table: no coalescing, still one answer per request.
                return (call().await, true);
            };
            if let Some(found) = cached() {
                return (found, false);
            }
            calls
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        let mut guard = Leave {
            table: self,
            key,
            cell,
            ran: false,
        };
        let mut ran = false;
        let result = guard
            .cell
            .get_or_init(|| {
                ran = true;
                call()
            })
            .await
            .clone();
        if ran {
            keep(&result);
        }
        guard.ran = ran;
        (result, ran)
    }

    /// How many calls are in flight (tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.calls.lock().map_or(0, |c| c.len())
    }
}

/// Leaves the table on every way out of [`Inflight::get`], cancellation included.
struct Leave<'a, T> {
    table: &'a Inflight<T>,
    key: &'a str,
    cell: Cell<T>,
    /// This participant made the call (and kept its result).
    ran: bool,
}

impl<T> Drop for Leave<'_, T> {
    fn drop(&mut self) {
        let Ok(mut calls) = self.table.calls.lock() else {
            return;
        };
        if !calls
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
        {
            return;
        }
        // Done: only the caller removes it, after keeping the result (a waiter leaving
        // first would let a new request call again before the result is cached).
        // Abandoned: whoever is last removes it (the table and this one hold it).
        let done = self.cell.initialized();
        if (done && self.ran) || (!done && Arc::strong_count(&self.cell) <= 2) {
            calls.remove(self.key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_misses_share_one_call_and_the_result_is_kept_before_leaving() {
        let table = Arc::new(Inflight::<u32>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Mutex::new(None));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (table, calls, kept) = (table.clone(), calls.clone(), kept.clone());
            let mut released = released.clone();
            tasks.push(tokio::spawn(async move {
                let cached = kept.lock().unwrap().as_ref().copied();
                table
                    .get(
                        "t",
                        || cached,
                        || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            released.wait_for(|r| *r).await.unwrap();
                            7
                        },
                        |v| *kept.lock().unwrap() = Some(*v),
                    )
                    .await
            }));
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let mut ran = 0;
        for t in tasks {
            let (v, here) = t.await.unwrap();
            assert_eq!(v, 7);
            ran += usize::from(here);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(ran, 1);
        assert_eq!(*kept.lock().unwrap(), Some(7));
        assert_eq!(table.len(), 0, "the call left the table");
    }

    #[tokio::test]
    async fn a_cancelled_call_is_taken_over_or_leaves_the_table() {
        let table = Arc::new(Inflight::<u32>::new());
        // Alone and cancelled: nothing stays behind.
        let pending = table.get("t", || None, std::future::pending, |_| {});
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), pending)
                .await
                .is_err()
        );
        assert_eq!(table.len(), 0);
        // Cancelled with a waiter: the waiter makes the call.
        let first = {
            let table = table.clone();
            tokio::spawn(async move { table.get("t", || None, std::future::pending, |_| {}).await })
        };
        tokio::task::yield_now().await;
        let second = {
            let table = table.clone();
            tokio::spawn(async move { table.get("t", || None, || async { 5 }, |_| {}).await })
        };
        tokio::task::yield_now().await;
        first.abort();
        assert_eq!(second.await.unwrap(), (5, true));
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn a_result_kept_meanwhile_is_found_under_the_lock() {
        let table = Inflight::<u32>::new();
        let (v, ran) = table
            .get("t", || Some(3), || async { panic!("called") }, |_| {})
            .await;
        assert_eq!((v, ran), (3, false));
    }
}
