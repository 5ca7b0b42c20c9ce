//! The threads that serve client connections: one single-threaded tokio runtime per
//! worker, the way nginx and Envoy run one event loop per core.
//!
//! The accept loop (on the control runtime, with the admin listener, reload and the
//! other background work) hands each accepted socket to the worker with the fewest
//! open connections. The socket is registered with that worker's reactor, and the
//! connection, its requests, their upstream exchanges and the tasks they spawn stay on
//! that thread for the connection's whole life. Compared with tokio's work-stealing
//! runtime this saves the cross-thread wake-ups, the stealing and the cache-line
//! traffic of a request moving between cores: ~5% CPU per request and ~10% more
//! requests/s on a 2-core machine at 64 connections (benches/README.md).
//!
//! The upstream connection pool is sharded by worker ([`current`]), so a pooled
//! connection is always polled by the thread whose reactor watches its socket.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

thread_local! {
    /// 1-based index of the worker running on this thread; 0 elsewhere.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The highest worker index started in this process.
static HIGHEST: AtomicUsize = AtomicUsize::new(0);

/// How many shards per-thread state needs: one per worker index ever started, plus
/// index 0 for every other thread.
pub fn shards() -> usize {
    HIGHEST.load(Ordering::Relaxed) + 1
}

/// The worker running on this thread: 1..=n on a worker thread, 0 on any other thread
/// (the control runtime, tests' runtimes). Used to shard per-thread state.
pub fn current() -> usize {
    CURRENT.with(Cell::get)
}

/// The default number of workers: one per CPU the process may use.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

struct Worker {
    handle: Handle,
    /// Connections handed to this worker and not finished yet.
    load: Arc<AtomicUsize>,
}

/// The running workers. Dropping this stops them: their runtimes shut down and every
/// connection still on them is closed (callers drain first).
pub struct Workers {
    workers: Vec<Worker>,
    stop: CancellationToken,
}

impl Workers {
    /// Starts `n` worker threads (at least one). Called once at start-up; waits the
    /// few microseconds each thread needs to build its runtime.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let stop = CancellationToken::new();
        let mut workers = Vec::with_capacity(n.max(1));
        for index in 1..=n.max(1) {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let token = stop.clone();
            // Detached: a worker ends when `stop` is cancelled. The runtime is built and
            // dropped on its own thread (dropping one inside another runtime panics).
            let started = std::thread::Builder::new()
                .name(format!("portcullis-worker-{index}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    CURRENT.with(|c| c.set(index));
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(token.cancelled());
                    // Tasks left over (connections past the grace period, background
                    // refreshes) are dropped, not waited for.
                    rt.shutdown_background();
                });
            let handle = started.and_then(|_| {
                rx.recv()
                    .unwrap_or_else(|_| Err(std::io::Error::other("worker thread ended at start")))
            });
            match handle {
                Ok(handle) => {
                    HIGHEST.fetch_max(index, Ordering::Relaxed);
                    workers.push(Worker {
                        handle,
                        load: Arc::new(AtomicUsize::new(0)),
                    })
                }
                Err(e) => {
                    stop.cancel();
                    return Err(e);
                }
            }
        }
        Ok(Workers { workers, stop })
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether there are no workers (never, once started).
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs the future made by `make` on the least-loaded worker. `make` runs on that
    /// worker, inside its runtime, so what it registers (a socket, timers) belongs to
    /// that worker's reactor.
    pub fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
        else {
            return;
        };
        worker.load.fetch_add(1, Ordering::Relaxed);
        let load = LoadGuard(worker.load.clone());
        worker.handle.spawn(async move {
            let _load = load;
            make().await;
        });
    }
}

/// Counts a connection against its worker until the connection's task ends or is
/// dropped.
struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn each_connection_goes_to_the_least_loaded_worker_and_runs_there() {
        let workers = Workers::start(2).expect("workers start");
        assert_eq!(workers.len(), 2);
        assert!(shards() >= 3, "one shard per worker plus one");
        assert_eq!(current(), 0, "not a worker thread");
        // Two long-lived tasks: the second goes to the worker the first left idle.
        let mut held = Vec::new();
        let mut ran_on = Vec::new();
        for _ in 0..2 {
            let (ran_tx, ran_rx) = oneshot::channel();
            let (hold_tx, hold_rx) = oneshot::channel::<()>();
            workers.spawn(move || async move {
                let _ = ran_tx.send(current());
                let _ = hold_rx.await;
            });
            ran_on.push(ran_rx.await.expect("task ran"));
            held.push(hold_tx);
        }
        ran_on.sort_unstable();
        assert_eq!(ran_on, [1, 2]);
        // Both finish: the loads are back to 0, and the next task goes to worker 1.
        drop(held);
        let (done_tx, done_rx) = oneshot::channel();
        // Wait until both counted connections have ended.
        while workers
            .workers
            .iter()
            .any(|w| w.load.load(Ordering::Relaxed) != 0)
        {
            tokio::task::yield_now().await;
        }
        workers.spawn(move || async move {
            let _ = done_tx.send(current());
        });
        assert_eq!(done_rx.await.expect("task ran"), 1);
    }

    #[tokio::test]
    async fn dropping_the_workers_stops_their_tasks() {
        let workers = Workers::start(1).expect("workers start");
        let (started_tx, started_rx) = oneshot::channel();
        let (never_tx, never_rx) = oneshot::channel::<()>();
        let (ended_tx, ended_rx) = oneshot::channel::<()>();
        workers.spawn(move || async move {
            let _ended = ended_tx;
            let _ = started_tx.send(());
            let _ = never_rx.await;
        });
        started_rx.await.expect("task started");
        drop(workers);
        // The task was dropped with its runtime: its sender is gone without a value.
        assert!(ended_rx.await.is_err());
        drop(never_tx);
    }
}
