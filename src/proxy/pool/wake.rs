//! Wakes raised while a request polls its own upstream connection.
//!
//! Inline, the request's task polls hyper's connection, and hyper's internal channels
//! (the response callback, the body channel, its want/give signals) then wake that same
//! task while it is running. tokio treats such a wake as a yield: the task is queued
//! again and a parked worker is woken to look for work, so every proxied request cost
//! about one extra poll of the whole connection and, at low load, a context switch on
//! the other worker. [`Inline::poll`] hands hyper a waker that, while the poll is on,
//! only notes the wake and polls again in place; outside a poll (socket readiness later
//! on) it wakes the task as usual.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Set while the owning task polls.
const POLLING: u8 = 1;
/// A wake arrived while polling.
const WOKEN: u8 = 2;
/// Polls in place before leaving it to the scheduler.
const MAX_ROUNDS: usize = 4;

struct Shared {
    task: AtomicWaker,
    state: AtomicU8,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & POLLING == 0 {
                self.task.wake();
                return;
            }
            match self.state.compare_exchange_weak(
                cur,
                cur | WOKEN,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
}

/// One connection's waker for inline polls (allocated once per connection).
pub(super) struct Inline {
    shared: Arc<Shared>,
    waker: Waker,
}

impl Inline {
    pub(super) fn new() -> Inline {
        let shared = Arc::new(Shared {
            task: AtomicWaker::new(),
            state: AtomicU8::new(0),
        });
        Inline {
            waker: Waker::from(shared.clone()),
            shared,
        }
    }

    /// Runs `f` with the connection's waker until it is ready or no wake arrived
    /// during it. A wake during a poll that ends `Ready` is dropped: it came from a
    /// resource `f` polls, whose state stays set for the next poll, which the caller
    /// makes (it goes on with the response or its body).
    pub(super) fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.shared.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_ROUNDS {
            self.shared.state.store(POLLING, Ordering::Release);
            let polled = f(&mut inner);
            let state = self.shared.state.swap(0, Ordering::AcqRel);
            if polled.is_ready() || state & WOKEN == 0 {
                return polled;
            }
        }
        // Still being woken: let the scheduler run others first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Forgets the task (a pooled connection must not keep it alive).
    pub(super) fn release(&self) {
        drop(self.shared.task.take());
    }
}
