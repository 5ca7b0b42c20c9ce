//! The scripted upstream of the pool tests: a raw HTTP/1.1 server whose answer to each
//! request is chosen by a script (answer, answer and close, answer and hold, answer
//! before the body, close), counting connections and recording what it read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the scripted upstream does with one request.
pub(super) enum Act {
    /// Write these bytes and wait for the next request.
    Answer(&'static [u8]),
    /// Write these bytes, then close the connection.
    AnswerAndClose(&'static [u8]),
    /// Write these bytes, then keep the connection open without reading.
    AnswerAndHold(&'static [u8]),
    /// Write these bytes as soon as the head is in, then read the body.
    AnswerBeforeBody(&'static [u8]),
    /// Close without answering.
    Close,
}

/// A raw HTTP/1.1 upstream whose answers are scripted by (request index on its
/// connection, request head). Counts connections, records every request head, and
/// reports each connection's end.
pub(super) struct Scripted {
    pub(super) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    /// Length of every request body read whole.
    pub(super) bodies: Arc<Mutex<Vec<usize>>>,
    closed: mpsc::UnboundedReceiver<()>,
}

impl Scripted {
    pub(super) async fn start(script: fn(usize, &str) -> Act) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let record = Record::default();
        let (tx, closed) = mpsc::unbounded_channel();
        let (count, seen) = (accepted.clone(), record.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, tx) = (seen.clone(), tx.clone());
                tokio::spawn(async move {
                    serve(s, script, seen).await;
                    let _ = tx.send(());
                });
            }
        });
        Scripted {
            addr,
            accepted,
            heads: record.heads,
            bodies: record.bodies,
            closed,
        }
    }

    pub(super) fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub(super) fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }

    pub(super) async fn wait_closed(&mut self) {
        tokio::time::timeout(Duration::from_secs(10), self.closed.recv())
            .await
            .expect("an upstream connection ends")
            .expect("upstream alive");
    }
}

/// What the scripted upstream saw.
#[derive(Clone, Default)]
struct Record {
    heads: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<usize>>>,
}

/// Reads requests (head + Content-Length body) and acts on each.
async fn serve(mut s: TcpStream, script: fn(usize, &str) -> Act, seen: Record) {
    let mut buf = Vec::new();
    for index in 0.. {
        let (head, len) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                let len = content_length(&head);
                break (head, len);
            }
            if read_more(&mut s, &mut buf).await == 0 {
                return;
            }
        };
        seen.heads.lock().expect("heads").push(head.clone());
        let act = script(index, &head);
        if let Act::AnswerBeforeBody(bytes) = act {
            if s.write_all(bytes).await.is_err() {
                return;
            }
        }
        while buf.len() < len {
            if read_more(&mut s, &mut buf).await == 0 {
                return;
            }
        }
        buf.drain(..len);
        seen.bodies.lock().expect("bodies").push(len);
        match act {
            Act::Answer(bytes) => {
                if s.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Act::AnswerAndClose(bytes) => {
                let _ = s.write_all(bytes).await;
                return;
            }
            Act::AnswerAndHold(bytes) => {
                let _ = s.write_all(bytes).await;
                // Until the gateway closes its side.
                let mut sink = [0u8; 1024];
                while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Act::AnswerBeforeBody(_) => {}
            Act::Close => return,
        }
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).await.unwrap_or(0);
    buf.extend_from_slice(&chunk[..n]);
    n
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}
