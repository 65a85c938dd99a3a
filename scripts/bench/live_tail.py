"""Live-log subscribers for the bench's `live` phase: N connections to GET /admin/live/logs
that read everything the gateway sends, as a dashboard would; on SIGTERM prints
`BENCH_JSON {...}` (events and bytes each received) and exits.

Raw asyncio streams, no third-party client: this runs pinned to the load core beside wrk and
the mock, so it must cost little per byte.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

MARK = b"\nevent: "


async def tail(port: int, key: str, index: int, counts: Counts) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /admin/live/logs HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {key}\r\n"
    writer.write(request.encode() + b"\r\n")
    await writer.drain()
    tail_bytes = b""
    while data := await reader.read(1 << 18):
        if not counts.sizes[index]:
            counts.started += 1
            if counts.started == len(counts.sizes):
                counts.ready.set()
        # Count event lines across chunk boundaries by keeping the chunk's last few bytes.
        joined = tail_bytes + data
        counts.events[index] += joined.count(MARK)
        tail_bytes = joined[-(len(MARK) - 1) :]
        counts.sizes[index] += len(data)


class Counts:
    def __init__(self, n: int) -> None:
        self.events, self.sizes = [0] * n, [0] * n
        self.started = 0
        self.ready = asyncio.Event()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    counts = Counts(args.count)
    tasks = [asyncio.create_task(tail(args.port, args.key, i, counts)) for i in range(args.count)]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready = asyncio.create_task(counts.ready.wait())
    await asyncio.wait([ready, *tasks], timeout=15, return_when=asyncio.FIRST_COMPLETED)
    print("ready" if counts.ready.is_set() else "failed", flush=True)
    await stop.wait()
    ended = sum(t.done() for t in tasks)  # a subscriber the gateway cut off (reset) ended
    result = {"events": counts.events, "bytes": counts.sizes, "ended": ended}
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
