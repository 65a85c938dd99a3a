"""Response cache benchmark: requests/s of cache hits vs cache misses at concurrency 64.

    core 0: the gateway (one worker, `cache.mode: memory`)
    core 1: the mock upstream + wrk (scripts/bench/cache.lua)

    misses   wrk -c64, every body unique (a counter in the prompt): lookup, upstream call,
             recording and store on every request; once for each upstream answer time in
             BENCH_CACHE_LATENCIES (the mock's `latency_ms`; 0 = at once)
    hits     wrk -c64, one body over and over (stored by a warm-up request): lookup and replay

Target (issue 13, decision 48): hits serve at least 2x the requests/s of misses whose upstream
answers in TARGET_LATENCY_MS. The 0 ms row is printed too, with the gateway's CPU per request:
there a miss's upstream costs next to nothing, and the ratio says how the gateway's fixed
per-request cost compares with its upstream client's (docs/benchmarks.md). Exits 1 if wrk saw
errors. Standalone (not part of `make bench`).

Environment: BENCH_SECONDS=10 (measured seconds per run), BENCH_WARMUP=2,
BENCH_CACHE_LATENCIES=0,50,100 (ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from procstat import cpu_seconds, free_port  # this script's own folder

HERE = Path(__file__).resolve().parent
LUA = HERE / "cache.lua"
KEY = "sk-bench-user-0000000000000000"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
GATEWAY_CORE, LOAD_CORE = "0", "1"
LATENCIES = [int(ms) for ms in os.environ.get("BENCH_CACHE_LATENCIES", "0,50,100").split(",")]
TARGET_LATENCY_MS = 100

CONFIG = """
server: {host: 127.0.0.1, master_key: sk-bench-master-0000000000000000}
database: {url: "sqlite+aiosqlite:///%(db)s"}
cache: {mode: memory, ttl_seconds: 600, max_entries: 100000}
backends:
  - {name: mock, type: openai, base_url: "http://127.0.0.1:%(mock)d/v1", max_retries: 0}
models:
  - name: bench
    targets: [{backend: mock, model: mock-model}]
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}
users:
  - {name: bench, api_keys: [%(key)s], models: ["*"], rpm: 100000000, tpm: 2000000000}
"""


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else argv


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: a server exited with status {proc.returncode} at start")
        url = f"http://127.0.0.1:{port}/health"
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=1) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.05)
    sys.exit(f"bench: nothing healthy on port {port} within 30 s")


def ask(port: int) -> str:
    """The hit body once (stores it); returns the cache header of the answer."""
    body = b'{"model":"bench","messages":[{"role":"user","content":"Say hello in one short '
    body += b'sentence."}],"max_tokens":32}'
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return str(resp.headers.get("x-sluicegate-cache"))


def wrk(port: int, seconds: int, unique: bool, latency_ms: int = 0) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEY": KEY, "BENCH_MODEL": "bench"}
    env["BENCH_UNIQUE"] = "1" if unique else "0"
    env["BENCH_LATENCY_MS"] = str(latency_ms)
    argv = pinned(LOAD_CORE, ["wrk", "-t1", "-c64", f"-d{seconds}s", "--timeout", "10s"])
    argv += ["-s", str(LUA), f"http://127.0.0.1:{port}/v1/chat/completions"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            result["rps"] = result["requests"] / max(result["duration_us"], 1) * 1e6
            return result
    sys.exit(f"bench: wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is required")
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-cache-bench-"))
    mock_port, gateway_port = free_port(), free_port()
    config = workdir / "gateway.yaml"
    config.write_text(CONFIG % {"db": workdir / "bench.db", "mock": mock_port, "key": KEY})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for core, argv, port in (
            (LOAD_CORE, ["mock-upstream", "--port", str(mock_port)], mock_port),
            (GATEWAY_CORE, ["serve", "--config", str(config), "--port", str(gateway_port)], 0),
        ):
            command = pinned(core, [sys.executable, "-m", "sluicegate", *argv])
            log = (workdir / f"{argv[0]}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            wait_healthy(port or gateway_port, procs[-1])
        if ask(gateway_port) != "miss" or ask(gateway_port) != "hit":
            sys.exit("bench: the gateway does not cache (expected a miss, then a hit)")
        gateway = procs[-1].pid
        runs = [(f"misses {ms} ms", True, ms) for ms in LATENCIES] + [("hits", False, 0)]
        results = {}
        for name, unique, latency_ms in runs:
            wrk(gateway_port, WARMUP, unique, latency_ms)
            cpu_before = cpu_seconds(gateway)
            result = results[name] = wrk(gateway_port, SECONDS, unique, latency_ms)
            result["cpu_us"] = (cpu_seconds(gateway) - cpu_before) / result["requests"] * 1e6
        hits = results["hits"]
        for name, result in results.items():
            versus = "" if name == "hits" else f"  hits/this {hits['rps'] / result['rps']:.2f}x"
            print(
                f"{name:14s} {result['rps']:7.0f} req/s  p50 {result['p50_us'] / 1000:7.2f} ms"
                f"  p99 {result['p99_us'] / 1000:7.2f} ms  gateway CPU {result['cpu_us']:4.0f} µs"
                f"/request  errors {result['errors']}{versus}"
            )
        target = results.get(f"misses {TARGET_LATENCY_MS} ms")
        if target is not None:
            ratio = hits["rps"] / target["rps"]
            verdict = "ok" if ratio >= 2 else "BELOW TARGET"
            print(
                f"hits/misses with a {TARGET_LATENCY_MS} ms upstream {ratio:.2f}x "
                f"(target >= 2x): {verdict}"
            )
        print("BENCH_JSON " + json.dumps(results))
        if any(result["errors"] for result in results.values()):
            raise SystemExit(1)
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
