//! The writer: lines are appended to one of [`SHARDS`] buffers (by worker thread, so a
//! worker's appends take an uncontended lock), and a thread of its own swaps each
//! buffer for an empty one and writes it out: every [`FLUSH_EVERY`], or sooner when a
//! buffer passes [`HIGH_WATER`]. A buffer holding [`MAX_BACKLOG`] unwritten bytes takes
//! no more lines (they are dropped and counted) until the writer catches up: a stalled
//! output never stalls requests.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::Duration;

use super::format::{self, Clock, Format};
use super::Record;
use crate::transport::workers::{self, Padded};

/// Buffers, indexed by worker thread (worker index modulo this).
const SHARDS: usize = 16;
/// How long a line may wait in a buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// A buffer this full wakes the writer.
const HIGH_WATER: usize = 64 * 1024;
/// The most unwritten bytes a buffer holds; lines past it are dropped.
const MAX_BACKLOG: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Shard {
    buf: Vec<u8>,
    clock: Clock,
}

/// The installed writer: the buffers, shared with its thread.
pub(super) struct Writer {
    inner: Arc<Inner>,
    thread: Thread,
}

struct Inner {
    format: Format,
    /// Where lines go; written by the writer thread, and by [`Writer::flush`] at exit.
    sink: Mutex<Box<dyn Write + Send>>,
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// The writer has been woken and not yet run.
    woken: AtomicBool,
    /// The writer was dropped: the thread writes what is left and ends.
    stopped: AtomicBool,
}

impl Writer {
    /// Starts the writer thread, writing to `sink`.
    pub(super) fn start(format: Format, sink: Box<dyn Write + Send>) -> std::io::Result<Writer> {
        let inner = Arc::new(Inner {
            format,
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
            woken: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            sink: Mutex::new(sink),
        });
        let shared = inner.clone();
        let thread = std::thread::Builder::new()
            .name("portcullis-access-log".into())
            .spawn(move || shared.run())?
            .thread()
            .clone();
        Ok(Writer { inner, thread })
    }

    /// Appends `record`'s line to this thread's buffer; false when dropped.
    pub(super) fn append(&self, record: &Record<'_>) -> bool {
        let inner = &*self.inner;
        let index = workers::current() % SHARDS;
        let Ok(mut shard) = inner.shards[index].lock() else {
            return false;
        };
        if shard.buf.len() >= MAX_BACKLOG {
            return false;
        }
        let Shard { buf, clock } = &mut *shard;
        format::line(inner.format, clock, buf, record);
        let wake = buf.len() >= HIGH_WATER;
        drop(shard);
        if wake && !inner.woken.swap(true, Ordering::Relaxed) {
            self.thread.unpark();
        }
        true
    }
}

impl Writer {
    /// Writes every buffered line now, on the calling thread (at exit).
    pub(super) fn flush(&self) {
        self.inner.drain(&mut Vec::new());
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}

impl Inner {
    /// The writer thread's loop.
    fn run(&self) {
        let mut spare: Vec<u8> = Vec::new();
        loop {
            std::thread::park_timeout(FLUSH_EVERY);
            let stopping = self.stopped.load(Ordering::Relaxed);
            self.woken.store(false, Ordering::Relaxed);
            self.drain(&mut spare);
            if stopping {
                return;
            }
        }
    }

    /// Swaps each buffer for `spare` (emptied) and writes it out.
    fn drain(&self, spare: &mut Vec<u8>) {
        for shard in self.shards.iter() {
            let Ok(mut shard) = shard.lock() else {
                continue;
            };
            if shard.buf.is_empty() {
                continue;
            }
            std::mem::swap(&mut shard.buf, spare);
            drop(shard);
            if let Ok(mut sink) = self.sink.lock() {
                // A failed write loses these lines; the next ones are tried again.
                let _ = sink.write_all(spare).and_then(|()| sink.flush());
            }
            spare.clear();
            if spare.capacity() > 2 * HIGH_WATER {
                *spare = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that blocks until the test lets it go.
    struct Stalled(Mutex<mpsc::Receiver<()>>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.lock().map(|rx| rx.recv());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn record() -> Record<'static> {
        Record {
            method: "GET",
            host: "h",
            path: "/",
            route: "r",
            status: 200,
            duration: Duration::from_millis(1),
            bytes: 1,
            request_id: "id",
            trace_id: None,
            user: "-",
            error: None,
        }
    }

    #[test]
    fn a_stalled_output_drops_lines_instead_of_blocking() {
        let (release, rx) = mpsc::channel();
        let writer = Writer::start(Format::Json, Box::new(Stalled(Mutex::new(rx)))).expect("start");
        let line_len = {
            let mut out = Vec::new();
            format::line(Format::Json, &mut Clock::default(), &mut out, &record());
            out.len()
        };
        // The backlog, plus the buffer the writer took out before it stalled (itself
        // at most a backlog).
        let most = 2 * MAX_BACKLOG / line_len + 1;
        let kept = (0..2 * most)
            .take_while(|_| writer.append(&record()))
            .count();
        assert!(kept <= most, "{kept} lines taken with the output stalled");
        assert!(!writer.append(&record()), "still dropping");
        drop(release);
    }

    #[test]
    fn lines_reach_the_sink() {
        #[derive(Clone, Default)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Shared::default();
        let writer = Writer::start(Format::Text, Box::new(sink.clone())).expect("start");
        assert!(writer.append(&record()));
        assert!(writer.append(&record()));
        writer.flush();
        let text = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(
            text.matches(" INFO access: method=GET").count(),
            2,
            "{text}"
        );
    }
}
