"""Held streams (`make bench-held`): thousands of slow streams open at once, as real LLM traffic
is, through the gateway and directly to the mock.

    core 0: the gateway alone (one worker, scripts/bench/gateway.yaml)
    core 1: the mock upstream + this client (uvloop, raw sockets, no HTTP library)

For each size (default 1,000 streams of 20 chunks 100 ms apart, and 5,000 with chunks 500 ms
apart so the client and the mock on core 1 are not the limit), the client opens every stream
over about a second, and records per stream the time from writing the request to the first
`data:` line (TTFT) and to the end (`[DONE]`). It prints TTFT p50/p99 and total time p50 direct
and through the gateway (**added** = gateway - direct), the gateway's CPU while the streams
were open (% of a core, and per 1,000 open streams), and its RSS with every stream open minus
before (per 1,000 streams). Core 1's busy share is printed too: below ~90 % the client was not
the limit.

    python scripts/bench/held.py [--sizes 1000:100,5000:500] [--chunks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from procstat import core_times, cpu_seconds, free_port, rss_mb  # this script's own folder

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CONFIG = HERE / "gateway.yaml"
KEY = "sk-bench-user-0000000000000000"  # gateway.yaml's bench user
GATEWAY = ["taskset", "-c", "0", str(BIN / "sluicegate"), "serve", "--config", str(CONFIG)]


def wait_http(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def request_bytes(port: int, model: str, chunks: int, inter_ms: int) -> bytes:
    body = (
        f'{{"model":"{model}","stream":true,"messages":[{{"role":"user",'
        f'"content":"held #mock chunks={chunks} inter_ms={inter_ms}"}}]}}'
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


async def one_stream(port: int, payload: bytes) -> tuple[float, float] | None:
    """(seconds to the first data: line, seconds to [DONE]); None if it failed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        started = time.perf_counter()
        writer.write(payload)
        first = None
        seen = b""
        while True:
            data = await reader.read(65536)
            if not data:
                return None
            if first is None and b"data:" in data:
                first = time.perf_counter() - started
            seen = (seen + data)[-64:]
            if b"[DONE]" in seen:
                return first or 0.0, time.perf_counter() - started
    finally:
        writer.close()


async def held_run(port: int, count: int, chunks: int, inter_ms: int, pid: int | None) -> dict:
    payload = request_bytes(port, "bench" if pid else "mock-model", chunks, inter_ms)
    spread = 1.0  # open the streams over this long, not in one SYN storm
    results: list[tuple[float, float] | None] = []
    samples: dict[str, float] = {}

    async def opener(index: int) -> None:
        await asyncio.sleep(spread * index / count)
        try:
            results.append(await one_stream(port, payload))
        except OSError:
            results.append(None)

    rss_before = rss_mb(pid) if pid else 0.0
    cpu_before = cpu_seconds(pid) if pid else 0.0
    busy_before = core_times()["1"]
    started = time.monotonic()
    tasks = [asyncio.create_task(opener(i)) for i in range(count)]
    # All open, first chunks in, most chunks still to come: the memory of `count` open streams.
    await asyncio.sleep(spread + min(2.0, chunks * inter_ms / 1000 / 3))
    if pid:
        samples["rss_open"] = rss_mb(pid)
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    busy_after = core_times()["1"]
    ok = [r for r in results if r is not None]
    ttft = sorted(r[0] for r in ok)
    total = sorted(r[1] for r in ok)
    figures = {
        "ok": len(ok),
        "failed": count - len(ok),
        "ttft_p50": statistics.median(ttft) * 1000,
        "ttft_p99": ttft[int(0.99 * (len(ttft) - 1))] * 1000,
        "total_p50": statistics.median(total) * 1000,
        "core1_busy": (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
    }
    if pid:
        figures["cpu_share"] = (cpu_seconds(pid) - cpu_before) / elapsed
        figures["rss_delta"] = samples["rss_open"] - rss_before
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000:100,5000:500", help="streams:inter_ms,...")
    parser.add_argument("--chunks", type=int, default=20)
    args = parser.parse_args()
    import resource

    import uvloop

    # 5,000 streams are 5,000 sockets here, 10,000 in the gateway: raise the soft limit (the
    # servers started below inherit it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    os.sched_setaffinity(0, {1})
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-held-"))
    mock_port, gateway_port = free_port(), free_port()
    env = {**os.environ, "BENCH_MOCK_PORT": str(mock_port), "BENCH_DB": str(workdir / "g.db")}
    processes = [
        subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                str(BIN / "sluicegate"),
                "mock-upstream",
                "--port",
                str(mock_port),
            ],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*GATEWAY, "--port", str(gateway_port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    gateway_pid = processes[1].pid
    try:
        wait_http(f"http://127.0.0.1:{mock_port}/v1/models")
        wait_http(f"http://127.0.0.1:{gateway_port}/health")
        print(
            f"{'streams':>8} {'inter':>6} {'path':>8} {'ok':>6} {'TTFT p50':>9} {'p99':>9}"
            f" {'total p50':>10} {'core1':>6} {'gw CPU':>7} {'RSS +MB':>8}"
        )
        for size in args.sizes.split(","):
            count, inter_ms = (int(v) for v in size.split(":"))
            rows = {}
            for path, port, pid in (
                ("direct", mock_port, None),
                ("gateway", gateway_port, gateway_pid),
            ):
                rows[path] = uvloop.run(held_run(port, count, args.chunks, inter_ms, pid))
                r = rows[path]
                cpu = f"{100 * r['cpu_share']:.0f}%" if "cpu_share" in r else ""
                rss = f"{r['rss_delta']:.1f}" if "rss_delta" in r else ""
                print(
                    f"{count:>8} {inter_ms:>4}ms {path:>8} {r['ok']:>6} {r['ttft_p50']:>7.2f}ms"
                    f" {r['ttft_p99']:>7.2f}ms {r['total_p50']:>8.1f}ms"
                    f" {100 * r['core1_busy']:>5.0f}% {cpu:>7} {rss:>8}"
                )
            d, g = rows["direct"], rows["gateway"]
            print(
                f"  added: TTFT p50 {g['ttft_p50'] - d['ttft_p50']:+.2f} ms,"
                f" p99 {g['ttft_p99'] - d['ttft_p99']:+.2f} ms,"
                f" total p50 {g['total_p50'] - d['total_p50']:+.1f} ms;"
                f" gateway {100 * g['cpu_share'] / count * 1000:.0f}% of a core"
                f" and {g['rss_delta'] / count * 1000:.1f} MB per 1,000 open streams"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


if __name__ == "__main__":
    main()
