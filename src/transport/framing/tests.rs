// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Differential tests: the gateway's HTTP/1 framing decisions (hyper's server as the
//! transport configures it, plus [`super::check`]) equal the reference reading of RFC
//! 9112 (`reference.rs`), for a table of known cases and a generated corpus of valid,
//! ambiguous and hostile messages.

use super::harness::differs;

async fn agree(input: &[u8]) {
    if let Some(diff) = differs(input).await {
        panic!("{diff}");
    }
}

const NEXT: &str = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn the_framing_table_of_rfc_9112() {
    let cases: &[&str] = &[
        // Plain and pipelined.
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        // chunked twice, in one field or two; other codings.
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
        // CL + TE: chunked, then the connection ends.
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        // TE in HTTP/1.0.
        "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // Content-Length forms.
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
        // obs-fold, bare CR, whitespace before the colon, bare LF.
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        // Chunk sizes and lines.
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        // Incomplete.
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHo",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        // Keep-alive rules.
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    for case in cases {
        agree(case.as_bytes()).await;
        agree(format!("{case}{NEXT}").as_bytes()).await;
    }
    // Field counts around hyper's limit (100 with Host; found by the fuzz target when
    // the reference allowed 64): taken below it, refused above it, by both.
    for fields in [63, 64, 65, 99, 100, 101, 150] {
        let mut case = String::from("POST /a HTTP/1.1\r\nHost: x\r\n");
        for i in 1..fields {
            case.push_str(&format!("X-F{i}: v\r\n"));
        }
        case.push_str("Content-Length: 2\r\n\r\nhi");
        agree(case.as_bytes()).await;
        agree(format!("{case}{NEXT}").as_bytes()).await;
    }
}

/// A small deterministic generator (xorshift64*): the same corpus on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

#[tokio::test]
async fn a_generated_corpus_is_framed_as_the_reference_frames_it() {
    let versions = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"];
    let te = [
        "",
        "",
        "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: CHUNKED \r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding:\r\n",
        "Transfer_Encoding: chunked\r\n",
    ];
    let cl = [
        "",
        "",
        "Content-Length: 5\r\n",
        "Content-Length: 0005\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nContent-Length: 4\r\n",
        "Content-Length: 5,5\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 18446744073709551616\r\n",
        "Content-Length: 12\r\n",
    ];
    let extra = [
        "",
        "Connection: close\r\n",
        "Connection: keep-alive\r\n",
        "Expect: 100-continue\r\n",
        "X-Fold: a\r\n b\r\n",
    ];
    let bodies = [
        "",
        "hello",
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        "0005\r\nhello\r\n0\r\n\r\n",
        "5;x=\"y\"\r\nhello\r\n0\r\n\r\n",
        "5\nhello\n0\n\n",
        "5\r\nhelloworld\r\n0\r\n\r\n",
        "ffffffffffffffffff\r\n",
        "7\r\nhello\r\n\r\n0\r\n\r\n",
        "c\r\nhello world!\r\n0\r\n\r\n",
        "hello world!",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let mut msg = format!("POST /p {}\r\nHost: x\r\n", rng.pick(&versions));
        // Field order matters to some readers: vary it.
        let mut fields = [rng.pick(&te), rng.pick(&cl), rng.pick(&extra)];
        if rng.next() % 2 == 0 {
            fields.swap(0, 1);
        }
        for f in fields {
            msg.push_str(f);
        }
        msg.push_str("\r\n");
        msg.push_str(rng.pick(&bodies));
        if rng.next() % 2 == 0 {
            msg.push_str(NEXT);
        }
        agree(msg.as_bytes()).await;
    }
}
