"""Time to first token, one stream at a time, for scripts/bench.sh.

wrk sees only whole responses, so this client sends sequential streaming chat requests over
one keep-alive HTTP/1.1 connection (raw asyncio streams on uvloop, no HTTP library in the
measured path) and records, per request, the time from writing the request to receiving the
first chunk of body that holds a `data:` line. It reads each response to its end (chunked
terminator) before sending the next one.

    python ttft.py --port P --model M [--key K] --seconds S [--warmup W] [--directive D]

Prints one line `BENCH_JSON {...}`: count (and warmup_count), p50/p90/p99/mean/max in
microseconds. Run it pinned (`taskset -c 1`) beside the mock so the gateway's core sees only
the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import uvloop


def build_request(port: int, model: str, key: str, directive: str) -> bytes:
    content = "Say hello in one short sentence."
    if directive:
        content += " " + directive
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 32,
            "stream": True,
        },
        separators=(",", ":"),
    ).encode()
    head = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key:
        head.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class ProtocolError(Exception):
    pass


async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> float:
    """Send one request; return seconds from write to the first `data:` chunk."""
    clock = time.perf_counter
    started = clock()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    if b" 200 " not in status_line + b" ":
        raise ProtocolError(f"unexpected status: {status_line!r}")
    headers = header_block.lower()
    if b"transfer-encoding: chunked" not in headers:
        raise ProtocolError("expected a chunked stream response")
    first: float | None = None
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # end of the (empty) trailer section
            break
        data = await reader.readexactly(size + 2)
        if first is None and b"data:" in data:
            first = clock()
    if first is None:
        raise ProtocolError("stream ended without a data: line")
    return first - started


async def run(args: argparse.Namespace) -> dict[str, float]:
    request = build_request(args.port, args.model, args.key, args.directive)
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    try:
        warmup_count = 0
        deadline = time.perf_counter() + args.warmup
        while time.perf_counter() < deadline:
            await one(reader, writer, request)
            warmup_count += 1
        samples: list[float] = []
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline and len(samples) < args.max:
            samples.append(await one(reader, writer, request))
    finally:
        writer.close()
    samples_us = sorted(s * 1e6 for s in samples)

    def pct(p: float) -> float:
        return samples_us[min(len(samples_us) - 1, int(p / 100 * len(samples_us)))]

    return {
        "count": len(samples_us),
        "warmup_count": warmup_count,
        "p50_us": statistics.median(samples_us),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "mean_us": statistics.fmean(samples_us),
        "max_us": samples_us[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--max", type=int, default=1_000_000, help="cap on measured requests")
    parser.add_argument("--directive", default="#mock chunks=5 inter_ms=1")
    args = parser.parse_args()
    try:
        result = uvloop.run(run(args))
    except (ProtocolError, OSError, asyncio.IncompleteReadError) as exc:
        print(f"ttft: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
