// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The generated corpus of the differential test: response streams built from valid,
//! ambiguous and hostile pieces (framing fields in every spelling, malformed lines,
//! chunked bodies with hostile size lines and trailers), cut anywhere now and then.

use http::Method;

/// A tiny xorshift generator: the corpus is the same on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub(super) fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// One generated response stream and the method of its request.
pub(super) fn generate(rng: &mut Rng) -> (Vec<u8>, Method) {
    let method = [
        Method::GET,
        Method::GET,
        Method::GET,
        Method::POST,
        Method::HEAD,
        Method::CONNECT,
    ][rng.below(6)]
    .clone();
    let mut wire = Vec::new();
    if rng.chance(10) {
        wire.extend_from_slice(rng.pick(&[
            &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
            b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
            b"HTTP/1.1 100 Continue\n\n",
        ]));
    }
    let status: &[u8] = if rng.chance(80) {
        b"HTTP/1.1 200 OK"
    } else {
        rng.pick(&[
            &b"HTTP/1.0 200 OK"[..],
            b"HTTP/1.1 204 No Content",
            b"HTTP/1.1 304 Not Modified",
            b"HTTP/1.1 101 Switching Protocols",
            b"HTTP/1.1 404 Not Found",
            b"HTTP/1.1 200",
            b"HTTP/1.1 200 Fine Thanks",
            b"HTTP/1.1 099 Low",
            b"HTTP/1.2 200 OK",
            b"HTTP/1.1 999 Odd",
            b"http/1.1 200 OK",
        ])
    };
    wire.extend_from_slice(status);
    wire.extend_from_slice(b"\r\n");
    let content: Vec<u8> = (0..rng.below(40)).map(|i| b'a' + (i % 26) as u8).collect();
    let real_len = content.len().to_string();
    // 0: length, 1: chunked, 2: both, 3: neither.
    let shape = [0, 0, 0, 1, 1, 1, 1, 2, 3, 3][rng.below(10)];
    for _ in 0..rng.below(3) {
        field(&mut wire, rng);
    }
    if shape == 0 || shape == 2 {
        let value = if rng.chance(70) {
            real_len.as_bytes()
        } else {
            rng.pick(&[
                &b"0"[..],
                b"005",
                b"+5",
                b"-1",
                b"1,1",
                b"1 1",
                b"0x5",
                b"",
                b" 5 ",
                b"5\t",
                b"1234567890123456789",
                b"999999999999999999",
                b"18446744073709551616",
            ])
        };
        let name = rng.pick(&["Content-Length", "content-length", "CONTENT-LENGTH"]);
        line(&mut wire, rng, name.as_bytes(), value);
        if rng.chance(10) {
            line(&mut wire, rng, b"Content-Length", value);
        }
    }
    if shape == 1 || shape == 2 {
        let value = if rng.chance(75) {
            &b"chunked"[..]
        } else {
            rng.pick(&[
                &b"Chunked "[..],
                b"chunked, chunked",
                b"gzip, chunked",
                b"chunked, gzip",
                b"identity",
                b"",
                b"xchunked",
                b"chunked,",
                b",chunked",
                b"chunked;q=1",
            ])
        };
        let name = rng.pick(&[
            "Transfer-Encoding",
            "transfer-encoding",
            "TRANSFER-encoding",
        ]);
        line(&mut wire, rng, name.as_bytes(), value);
        if rng.chance(10) {
            line(&mut wire, rng, b"transfer-encoding", b"chunked");
        }
    }
    for _ in 0..rng.below(3) {
        field(&mut wire, rng);
    }
    wire.extend_from_slice(if rng.chance(99) { b"\r\n" } else { b"\n" });
    if shape == 1 || (shape == 2 && rng.chance(50)) {
        chunked(&mut wire, rng, &content);
    } else {
        wire.extend_from_slice(&content);
    }
    if rng.chance(20) {
        wire.extend_from_slice(b"NEXT");
    }
    if rng.chance(15) {
        let cut = rng.below(wire.len() + 1);
        wire.truncate(cut);
    }
    (wire, method)
}

/// A field line, `name: value` with a CRLF, now and then a bare LF or CR.
fn line(wire: &mut Vec<u8>, rng: &mut Rng, name: &[u8], value: &[u8]) {
    wire.extend_from_slice(name);
    wire.extend_from_slice(b": ");
    wire.extend_from_slice(value);
    wire.extend_from_slice(if rng.chance(99) {
        b"\r\n"
    } else {
        rng.pick(&[&b"\n"[..], b"\r"])
    });
}

/// An ordinary, hop-by-hop or (now and then) malformed field.
fn field(wire: &mut Vec<u8>, rng: &mut Rng) {
    let raw: &[u8] = if rng.chance(90) {
        rng.pick(&[
            &b"Server: up"[..],
            b"Set-Cookie: a=1",
            b"set-cookie: b=2",
            b"X-Empty:",
            b"Connection: close",
            b"Connection: keep-alive",
            b"Connection: Keep-Alive, close",
            b"Connection: x-drop",
            b"Connection: x-drop, Host",
            b"X-Drop: secret",
            b"Host: h",
            b"Keep-Alive: timeout=5",
            b"Trailer: grpc-status",
            b"X-Request-Id: forged",
            b"Upgrade: websocket",
            b"Date: Thu, 01 Jan 2026 00:00:00 GMT",
            b"X-Obs: caf\xe9",
            b"X-Tab: a\tb",
            b"X-Tabs:\t v \t",
            b"x~odd!: v",
        ])
    } else {
        rng.pick(&[
            &b" folded"[..],
            b"\tfolded",
            b"bad header",
            b"Content-Length : 5",
            b"x-a: b\rc",
            b"x-del: a\x7fb",
            b": empty-name",
        ])
    };
    wire.extend_from_slice(raw);
    wire.extend_from_slice(b"\r\n");
}

/// `content` in chunked framing, now and then malformed.
fn chunked(wire: &mut Vec<u8>, rng: &mut Rng, content: &[u8]) {
    let mut at = 0;
    while at < content.len() {
        let size = (1 + rng.below(12)).min(content.len() - at);
        let hex = format!("{size:x}");
        let size_line: Vec<u8> = if rng.chance(85) {
            match rng.below(6) {
                0 => format!("{size:X}").into_bytes(),
                1 => format!("000{hex}").into_bytes(),
                2 => format!("{hex};name=value").into_bytes(),
                3 => format!("{hex} ;x=\"q\"").into_bytes(),
                4 => format!("{hex}\t").into_bytes(),
                _ => hex.into_bytes(),
            }
        } else {
            let hostile: &[u8] = rng.pick(&[
                &b"g"[..],
                b"-3",
                b"0x3",
                b"",
                b";x",
                b"3 x",
                b"3;a\rb",
                b"3;a\0b",
                b"10000000000000000",
                b"00000000000000000000003",
            ]);
            hostile.to_vec()
        };
        wire.extend_from_slice(&size_line);
        wire.extend_from_slice(if rng.chance(97) { b"\r\n" } else { b"\n" });
        wire.extend_from_slice(&content[at..at + size]);
        let end: &[u8] = if rng.chance(95) {
            b"\r\n"
        } else {
            rng.pick(&[&b"\n"[..], b"X\r\n", b""])
        };
        wire.extend_from_slice(end);
        at += size;
    }
    let last: &[u8] = rng.pick(&[&b"0"[..], b"0", b"000", b"0;ext=1"]);
    wire.extend_from_slice(last);
    wire.extend_from_slice(b"\r\n");
    for _ in 0..rng.below(3) {
        let trailer: &[u8] = rng.pick(&[
            &b"grpc-status: 0\r\n"[..],
            b"grpc-message: fine  \r\n",
            b"x-tabs:\t v \t\r\n",
            b"x-empty:\r\n",
            b"x~odd!: v\r\n",
            b"x-ctl: a\x01b\r\n",
            b"Set-Cookie: forged=1\r\n",
            b"content-length: 9\r\n",
            b"connection: x\r\n",
            b"x-sum: a\n",
            b" folded\r\n",
            b"no colon\r\n",
            b"x-sp : v\r\n",
            b"x-obs: caf\xe9\r\n",
            b"x-cr: a\rb\r\n",
        ]);
        wire.extend_from_slice(trailer);
    }
    if rng.chance(2) {
        for i in 0..33 {
            wire.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
    }
    wire.extend_from_slice(b"\r\n");
}
