//! The threads that serve client connections: one single-threaded tokio runtime per
//! worker, the way nginx and Envoy run one event loop per core.
//!
//! The accept loop (on the control runtime, with the admin listener, reload and the
//! other background work) hands each accepted socket to the worker with the fewest
//! open connections. The socket is registered with that worker's reactor, and the
//! connection, its requests, their upstream exchanges and the tasks they spawn stay on
//! that thread for the connection's whole life. Compared with tokio's work-stealing
//! runtime this saves the cross-thread wake-ups, the stealing and the cache-line
//! traffic of a request moving between cores: ~8% CPU per request and ~12% more
//! requests/s on a 2-core machine at 64 connections (benches/README.md).
//!
//! The plain-http upstream pool is sharded by worker ([`current`]), so a pooled
//! connection is polled by the thread whose reactor watches its socket. An HTTP/2
//! connection counts as one connection however many streams it carries; an upgraded
//! (websocket) tunnel counts as one for as long as it is open ([`Busy`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// tokio's default cap on blocking threads (DNS lookups, file reads), shared out among
/// the workers' runtimes.
const MAX_BLOCKING: usize = 512;

thread_local! {
    /// 1-based index of the worker running on this thread; 0 elsewhere.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    /// The load counter of the worker running on this thread.
    static LOAD: RefCell<Option<Arc<AtomicUsize>>> = const { RefCell::new(None) };
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

/// One worker's shard of per-thread state, alone on its cache lines (128 bytes: the
/// adjacent-line prefetcher pairs lines). Shards packed side by side would share a
/// line, and each worker's writes to its own (a lock, a counter) would take that line
/// from the other core: false sharing, the cost sharding was meant to remove.
#[derive(Clone, Debug, Default)]
#[repr(align(128))]
pub struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Which of `len` per-thread shards (`len` = [`shards()`] when they were made) belongs
/// to this thread: its worker index, or the last shard for a worker started after them.
pub fn shard_index(len: usize) -> usize {
    current().min(len.saturating_sub(1))
}

/// The default number of workers: one per CPU the process may use (cgroup CPU quotas
/// included).
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Counts against the current worker's load while it lives: held by work that outlives
/// the connection task it came from (an upgraded tunnel). Does nothing off a worker.
pub struct Busy(Option<Arc<AtomicUsize>>);

impl Busy {
    /// Counts one unit of load on this thread's worker, if it is one.
    pub fn current() -> Busy {
        Busy(LOAD.with(|l| l.borrow().clone()).map(Busy::count))
    }

    fn count(load: Arc<AtomicUsize>) -> Arc<AtomicUsize> {
        load.fetch_add(1, Ordering::Relaxed);
        load
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(load) = &self.0 {
            load.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

struct Worker {
    handle: Handle,
    /// Connections (and tunnels) on this worker that have not finished yet.
    load: Arc<AtomicUsize>,
}

/// The running workers. [`Workers::stop`] ends them; dropping this without it ends them
/// too, without waiting.
pub struct Workers {
    workers: Vec<Worker>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop: CancellationToken,
}

impl Workers {
    /// Starts `n` worker threads (at least one). Called once at start-up; waits the
    /// few microseconds each thread needs to build its runtime.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let n = n.max(1);
        // Dropped on an error: the threads started so far end.
        let mut started = Workers {
            workers: Vec::with_capacity(n),
            threads: Mutex::new(Vec::with_capacity(n)),
            stop: CancellationToken::new(),
        };
        for index in 1..=n {
            let load = Arc::new(AtomicUsize::new(0));
            let (handle, thread) = spawn_worker(index, n, load.clone(), started.stop.clone())?;
            HIGHEST.fetch_max(index, Ordering::Relaxed);
            if let Ok(mut threads) = started.threads.lock() {
                threads.push(thread);
            }
            started.workers.push(Worker { handle, load });
        }
        Ok(started)
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
        let load = Busy(Some(Busy::count(worker.load.clone())));
        worker.handle.spawn(async move {
            let _load = load;
            make().await;
        });
    }

    /// Stops the workers and waits for their threads to end: every task still on them
    /// (connections past the grace period, tunnels) is dropped first.
    pub async fn stop(&self) {
        self.stop.cancel();
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One worker thread and its runtime. The runtime is built and dropped on its own
/// thread (dropping one inside another runtime panics).
fn spawn_worker(
    index: usize,
    of: usize,
    load: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> std::io::Result<(Handle, JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name(format!("portcullis-worker-{index}"))
        .spawn(move || {
            let built = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads((MAX_BLOCKING / of).max(1))
                .thread_name(format!("portcullis-blocking-{index}"))
                .build();
            let rt = match built {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            CURRENT.with(|c| c.set(index));
            LOAD.with(|l| *l.borrow_mut() = Some(load));
            let _ = tx.send(Ok(rt.handle().clone()));
            rt.block_on(stop.cancelled());
            // Tasks left over (connections past the grace period, background
            // refreshes) are dropped, not waited for.
            rt.shutdown_background();
        })?;
    match rx.recv() {
        Ok(Ok(handle)) => Ok((handle, thread)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("worker thread ended at start")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn each_connection_goes_to_the_least_loaded_worker_and_runs_there() {
        let workers = Workers::start(2).expect("workers start");
        assert_eq!(workers.workers.len(), 2);
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
        assert_eq!(ran_on, [1, 2], "ties go to the first worker");
        // Worker 1's task ends: the next task goes to worker 1, now the least loaded.
        drop(held.remove(0));
        settled(&workers, 0).await;
        assert_eq!(next_runs_on(&workers).await, 1);
        drop(held);
    }

    /// The worker the next spawned task runs on.
    async fn next_runs_on(workers: &Workers) -> usize {
        let (tx, rx) = oneshot::channel();
        workers.spawn(move || async move {
            let _ = tx.send(current());
        });
        rx.await.expect("task ran")
    }

    /// Resolves once the tasks queued on `worker` before this call have run.
    async fn settled(workers: &Workers, worker: usize) {
        let (tx, rx) = oneshot::channel();
        workers.workers[worker].handle.spawn(async move {
            let _ = tx.send(());
        });
        rx.await.expect("worker runs");
    }

    #[tokio::test]
    async fn a_tunnel_left_behind_by_a_connection_still_counts_against_its_worker() {
        assert!(Busy::current().0.is_none(), "inert off a worker");
        let workers = Workers::start(2).expect("workers start");
        let (hold_tx, hold_rx) = oneshot::channel::<()>();
        let (ran_tx, ran_rx) = oneshot::channel();
        workers.spawn(move || async move {
            let busy = Busy::current();
            tokio::spawn(async move {
                let _busy = busy;
                let _ = hold_rx.await;
            });
            let _ = ran_tx.send(current());
        });
        assert_eq!(ran_rx.await.expect("ran"), 1);
        settled(&workers, 0).await;
        // The connection task has ended; its tunnel keeps worker 1 loaded.
        assert_eq!(next_runs_on(&workers).await, 2);
        drop(hold_tx);
    }

    #[tokio::test]
    async fn stopping_the_workers_drops_their_tasks() {
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
        workers.stop().await;
        // The task was dropped with its runtime: its sender is gone without a value.
        assert!(ended_rx.await.is_err());
        drop(never_tx);
    }
}
