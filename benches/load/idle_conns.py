#!/usr/bin/env python3
"""Open N keep-alive HTTP/1.1 connections, send one request on each, keep them open.

Used by benches/load.sh to measure a server's peak RSS with many idle keep-alive
connections. Prints one line `READY ok=<n> failed=<n> statuses=<json>` once every
connection has been attempted, then holds the sockets open until killed (or until
--hold seconds pass), and finally prints `CLOSED`.

Usage: idle_conns.py HOST PORT [--conns 10000] [--concurrency 256] [--hold 120]
"""

import argparse
import asyncio
import collections
import json
import resource
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    chunked = False
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # data + CRLF (last: trailers' CRLF)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def one(host, port, sem, timeout):
    async with sem:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(REQUEST)
        await writer.drain()
        status = await asyncio.wait_for(read_response(reader), timeout)
        return status, writer


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--hold", type=float, default=120.0)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    sem = asyncio.Semaphore(args.concurrency)
    results = await asyncio.gather(
        *(one(args.host, args.port, sem, args.timeout) for _ in range(args.conns)),
        return_exceptions=True,
    )
    writers, statuses, errors = [], collections.Counter(), collections.Counter()
    for r in results:
        if isinstance(r, BaseException):
            errors[type(r).__name__] += 1
        else:
            statuses[str(r[0])] += 1
            writers.append(r[1])
    ok = statuses.get("200", 0)
    print(
        f"READY ok={ok} failed={args.conns - ok} statuses={json.dumps(dict(statuses))}"
        f" errors={json.dumps(dict(errors))}",
        flush=True,
    )
    try:
        await asyncio.sleep(args.hold)
    finally:
        for w in writers:
            w.close()
        print("CLOSED", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
