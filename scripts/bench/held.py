"""Held streams (`make bench-held`): thousands of slow streams open at once, as real LLM traffic
is, through the gateway and directly to the mock (issue 11).

    core 0: the gateway alone (one worker, scripts/bench/gateway.yaml)
    core 1: the mock upstream + this client (uvloop, raw sockets, no HTTP library)

For each size (default 1,000 held streams with chunks 100 ms apart, and 5,000 with chunks
500 ms apart, so that both sizes put the same 10,000 chunks/s on core 1), per path (direct,
then gateway):

1. **Hold**: open N long streams at a steady rate (`--ramp` streams/s, one the gateway
   sustains: opening a stream costs it about a millisecond of CPU) and wait until every one
   has its first chunk. They keep streaming until the probes are done, then are closed.
2. **Probe**: with all N held, run `--probes` streams of the issue's shape (20 chunks 100 ms
   apart), `--probe-concurrency` at a time, and time each from writing the request to its
   first `data:` line (TTFT) and to `[DONE]` (total). **Added** = gateway - direct, at p50
   and p99: what a new stream pays for the N others being open.
3. While the probes run: the gateway's CPU (% of a core, and per 1,000 held streams) and its
   RSS with every stream open minus before (per 1,000); core 1's busy share, to show the
   client and the mock were not the limit (flagged `!` above 90 %).

Held streams are asked for far more chunks than the run lasts and closed by the client after
the probes: one that failed, or ended, while held (EOF, an error event, `[DONE]`) is counted.

    python scripts/bench/held.py [--sizes 1000:100,5000:500] [--ramp 500] [--probes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from procstat import (  # this script's own folder
    core_times,
    cpu_seconds,
    free_port,
    rss_mb,
    wait_http,
)

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CONFIG = HERE / "gateway.yaml"
KEY = "sk-bench-user-0000000000000000"  # gateway.yaml's bench user
GATEWAY = ["taskset", "-c", "0", str(BIN / "sluicegate"), "serve", "--config", str(CONFIG)]


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


async def one_stream(
    port: int, payload: bytes, first_seen: asyncio.Event | None = None
) -> tuple[float, float] | None:
    """(seconds to the first data: line, seconds to [DONE]); None if it failed. Sets
    `first_seen` when the first data arrived."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
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
                if first_seen is not None:
                    first_seen.set()
            seen = (seen + data)[-64:]
            if b"[DONE]" in seen:
                return first or 0.0, time.perf_counter() - started
    except OSError:
        return None
    finally:
        writer.close()


async def held_stream(
    port: int, payload: bytes, first_seen: asyncio.Event, stop: asyncio.Event
) -> float | str:
    """Seconds to the first data: line of a stream kept open until `stop`, or why it was not:
    "error" (an error event, a refused or reset connection, EOF) or "ended" (`[DONE]`)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "error"
    started = time.perf_counter()
    first = None
    stopping = asyncio.ensure_future(stop.wait())
    try:
        writer.write(payload)
        while True:
            read = asyncio.ensure_future(reader.read(65536))
            done, _ = await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                return first if first is not None else "error"
            data = read.result()
            if not data or b'"error"' in data:
                return "error"
            if b"[DONE]" in data:
                return "ended"
            if first is None and b"data:" in data:
                first = time.perf_counter() - started
                first_seen.set()
    except OSError:
        return "error"
    finally:
        stopping.cancel()
        writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def held_run(port: int, model: str, size: Size, pid: int | None) -> dict:
    """Hold `size.count` streams open, probe with new ones, report the figures."""
    # Held streams are asked for more chunks than the ramp, the wait for every first chunk
    # and the probes take, with a wide margin, and closed by the client once the probes are
    # done. (Not far more: the mock builds a stream's events when the request arrives.)
    probe_seconds = size.probes / size.concurrency * size.probe_chunks * 0.1
    hold_seconds = 2 * size.count / size.ramp + 2 * probe_seconds + 20
    held_payload = request_bytes(
        port, model, int(hold_seconds * 1000 / size.inter_ms), size.inter_ms
    )
    probe_payload = request_bytes(port, model, size.probe_chunks, 100)
    rss_before = rss_mb(pid) if pid else 0.0
    firsts = [asyncio.Event() for _ in range(size.count)]
    stop = asyncio.Event()

    async def hold(index: int) -> float | str:
        await asyncio.sleep(index / size.ramp)
        first = await held_stream(port, held_payload, firsts[index], stop)
        firsts[index].set()  # a failed stream must not keep the wait below waiting
        return first

    held = [asyncio.create_task(hold(i)) for i in range(size.count)]
    await asyncio.wait_for(
        asyncio.gather(*(event.wait() for event in firsts)), size.count / size.ramp + 60
    )
    rss_open = rss_mb(pid) if pid else 0.0
    cpu_before = cpu_seconds(pid) if pid else 0.0
    busy_before = core_times()["1"]
    started = time.monotonic()
    gate = asyncio.Semaphore(size.concurrency)

    async def probe() -> tuple[float, float] | None:
        async with gate:
            return await one_stream(port, probe_payload)

    probes = await asyncio.gather(*(probe() for _ in range(size.probes)))
    elapsed = time.monotonic() - started
    busy_after = core_times()["1"]
    cpu_after = cpu_seconds(pid) if pid else 0.0
    still_open = sum(not task.done() for task in held)
    stop.set()
    held_results = await asyncio.gather(*held)
    ok = [r for r in probes if r is not None]
    held_ok = [r for r in held_results if isinstance(r, float)]
    figures = {
        "ok": len(ok),
        "failed": size.probes - len(ok),
        "held_failed": size.count - len(held_ok),
        "held_errors": held_results.count("error"),
        "held_ended": held_results.count("ended"),
        "held_open_during_probes": still_open,
        "held_ttft_p50": percentile(held_ok, 0.5),
        "ttft_p50": percentile([r[0] for r in ok], 0.5),
        "ttft_p99": percentile([r[0] for r in ok], 0.99),
        "total_p50": percentile([r[1] for r in ok], 0.5),
        "total_p99": percentile([r[1] for r in ok], 0.99),
        "core1_busy": (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
    }
    if pid:
        figures["cpu_share"] = (cpu_after - cpu_before) / elapsed
        figures["rss_delta"] = rss_open - rss_before
        figures["rss_open"] = rss_open
    return figures


@dataclass(frozen=True)
class Size:
    count: int
    inter_ms: int
    ramp: float
    probes: int
    concurrency: int
    probe_chunks: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000:100,5000:500", help="streams:inter_ms,...")
    parser.add_argument("--ramp", type=float, default=500.0, help="held streams opened per s")
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--probe-concurrency", type=int, default=10)
    parser.add_argument("--chunks", type=int, default=20, help="chunks of a probe stream")
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
            f"{'held':>6} {'inter':>6} {'path':>8} {'probes ok':>9} {'TTFT p50':>9} {'p99':>9}"
            f" {'total p50':>10} {'p99':>9} {'core1':>6} {'gw CPU':>7} {'RSS +MB':>8}"
        )
        for spec in args.sizes.split(","):
            count, inter_ms = (int(v) for v in spec.split(":"))
            size = Size(
                count, inter_ms, args.ramp, args.probes, args.probe_concurrency, args.chunks
            )
            rows = {}
            for path, port, pid, model in (
                ("direct", mock_port, None, "mock-model"),
                ("gateway", gateway_port, gateway_pid, "bench"),
            ):
                rows[path] = r = uvloop.run(held_run(port, model, size, pid))
                cpu = f"{100 * r['cpu_share']:.0f}%" if "cpu_share" in r else ""
                rss = f"{r['rss_delta']:.1f}" if "rss_delta" in r else ""
                flag = "!" if r["core1_busy"] > 0.9 else " "
                print(
                    f"{count:>6} {inter_ms:>4}ms {path:>8} {r['ok']:>9} {r['ttft_p50']:>7.2f}ms"
                    f" {r['ttft_p99']:>7.2f}ms {r['total_p50']:>8.1f}ms {r['total_p99']:>7.1f}ms"
                    f" {100 * r['core1_busy']:>4.0f}%{flag} {cpu:>7} {rss:>8}"
                )
                print(
                    f"{'':>22} held: {count - r['held_failed']} of {count} streaming without error"
                    f" until closed after the probes; {r['held_errors']} failed,"
                    f" {r['held_ended']} had ended with [DONE] before;"
                    f" their own TTFT p50 {r['held_ttft_p50']:.1f} ms (includes the ramp)"
                )
            d, g = rows["direct"], rows["gateway"]
            print(
                f"  added: TTFT p50 {g['ttft_p50'] - d['ttft_p50']:+.2f} ms,"
                f" p99 {g['ttft_p99'] - d['ttft_p99']:+.2f} ms;"
                f" total p50 {g['total_p50'] - d['total_p50']:+.1f} ms,"
                f" p99 {g['total_p99'] - d['total_p99']:+.1f} ms;"
                f" gateway {100 * g['cpu_share'] / count * 1000:.0f}% of a core"
                f" and {g['rss_delta'] / count * 1000:.1f} MB per 1,000 held streams"
                f" (RSS {g['rss_open']:.0f} MB with all open)"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


if __name__ == "__main__":
    main()
