#!/usr/bin/env python3
"""Keep-alive correctness under load: many HTTP/1.1 connections send requests with
random split points, pipelined batches (1-3), POST bodies (echoed back by the bundled
echo upstream's /stream) and random pauses, and check every response.

Exercises the listener's connection parking (src/server/conn.rs): above 512 open
connections a connection parks as soon as it waits, below after 1 s idle.

Usage: keepalive_stress.py HOST PORT [--conns 800] [--rounds 6] [--tls] [--seed 1]
Run against `portcullis run` with a route (auth: none) to `portcullis echo`.
Prints one line of counts; exit status 1 if any response was wrong or a connection
was lost.
"""

import argparse
import asyncio
import random
import resource
import ssl
import sys
import time


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    body = b""
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    elif length:
        body = await reader.readexactly(length)
    return status, body


async def client(i, args, stats, tls):
    rnd = random.Random(args.seed * 1_000_003 + i)
    try:
        reader, writer = await asyncio.open_connection(args.host, args.port, ssl=tls)
    except OSError as e:
        stats["connect_failed"] += 1
        return
    for k in range(args.rounds):
        batch = []
        for j in range(rnd.choice([1, 1, 1, 2, 3])):
            if rnd.random() < 0.3:
                body = bytes(rnd.randrange(97, 122) for _ in range(rnd.randrange(1, 3000)))
                head = f"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n"
                batch.append((head.encode() + body, body))
            else:
                path = f"/p{i}-{k}-{j}"
                pad = "x" * rnd.randrange(0, 2000)
                batch.append((f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n".encode(), path.encode()))
        blob = b"".join(req for req, _ in batch)
        cuts = sorted(rnd.sample(range(1, len(blob)), min(rnd.choice([0, 0, 1, 2, 4]), len(blob) - 1)))
        prev = 0
        try:
            for cut in cuts + [len(blob)]:
                writer.write(blob[prev:cut])
                await writer.drain()
                prev = cut
                if cut != len(blob):
                    await asyncio.sleep(rnd.choice([0, 0.001, 0.01, 0.05]))
            for _, expect in batch:
                status, body = await asyncio.wait_for(read_response(reader), 30)
                if status == 200 and expect in body:
                    stats["ok"] += 1
                else:
                    stats["wrong"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            stats["lost"] += 1
            writer.close()
            return
        await asyncio.sleep(rnd.choice([0, 0, 0.001, 0.05, 0.3, 1.2, 2.5]))
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tls", action="store_true", help="TLS without certificate checks")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, args.conns + 256), hard), hard))
    tls = None
    if args.tls:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    stats = {"ok": 0, "wrong": 0, "lost": 0, "connect_failed": 0}
    start = time.time()
    await asyncio.gather(*(client(i, args, stats, tls) for i in range(args.conns)))
    print(" ".join(f"{k}={v}" for k, v in stats.items()), f"seconds={time.time() - start:.1f}")
    return 1 if stats["wrong"] or stats["lost"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
