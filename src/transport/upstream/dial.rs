//! Opening an upstream connection: every resolved address, raced the Happy Eyeballs way
//! (RFC 8305): addresses alternate between IPv6 and IPv4, a new attempt starts every
//! 250 ms or as soon as the one before fails, and the first connection made wins. A
//! family that silently drops packets costs 250 ms, not the connect timeout.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// Delay before the next address is tried while earlier attempts are still pending.
const STAGGER: Duration = Duration::from_millis(250);

/// Connects to one of `addrs` within `timeout`.
pub(super) async fn dial(addrs: Vec<SocketAddr>, timeout: Duration) -> io::Result<TcpStream> {
    let mut next = interleave(addrs).into_iter();
    let mut attempts = FuturesUnordered::new();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
    if next.len() == 0 {
        return Err(last);
    }
    let deadline = tokio::time::sleep(timeout);
    let stagger = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(deadline, stagger);
    loop {
        tokio::select! {
            biased;
            Some(result) = attempts.next(), if !attempts.is_empty() => match result {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    last = e;
                    match next.next() {
                        Some(addr) => {
                            attempts.push(attempt(addr));
                            stagger.as_mut().reset(tokio::time::Instant::now() + STAGGER);
                        }
                        None if attempts.is_empty() => return Err(last),
                        None => {}
                    }
                }
            },
            () = &mut stagger, if next.len() > 0 => {
                if let Some(addr) = next.next() {
                    attempts.push(attempt(addr));
                }
                stagger.as_mut().reset(tokio::time::Instant::now() + STAGGER);
            }
            () = &mut deadline => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
            }
        }
        if attempts.is_empty() && next.len() == 0 {
            return Err(last);
        }
    }
}

/// One attempt, on a socket with keep-alive probes: a peer that vanished without a FIN
/// (host down, state dropped by a NAT or firewall) is found out during a long exchange
/// (probes after 60 s idle, as hyper-util's connector did).
async fn attempt(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }?;
    let _ = socket2::SockRef::from(&socket)
        .set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(Duration::from_secs(60)));
    let stream = socket.connect(addr).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The resolver's order, families alternating, starting with the resolver's first.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v6 = first.is_ipv6();
    let (mut lead, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(lead.len() + other.len());
    lead.reverse();
    other.reverse();
    loop {
        match (lead.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate_from_the_resolvers_first() {
        let got = interleave(vec![
            addr("[::1]:1"),
            addr("[::2]:1"),
            addr("[::3]:1"),
            addr("10.0.0.1:1"),
        ]);
        let want = ["[::1]:1", "10.0.0.1:1", "[::2]:1", "[::3]:1"].map(addr);
        assert_eq!(got, want);
        let got = interleave(vec![
            addr("10.0.0.1:1"),
            addr("[::1]:1"),
            addr("10.0.0.2:1"),
        ]);
        assert_eq!(got, ["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"].map(addr));
        assert!(interleave(Vec::new()).is_empty());
    }

    #[tokio::test]
    async fn a_refusing_address_hands_over_to_the_next_at_once() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = closed.local_addr().unwrap();
        drop(closed);
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = dial(
            vec![refused, open.local_addr().unwrap()],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(stream.peer_addr().unwrap(), open.local_addr().unwrap());
        let err = dial(vec![refused], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = dial(Vec::new(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
