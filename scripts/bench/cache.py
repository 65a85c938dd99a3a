"""Response cache benchmark: requests/s of cache hits vs cache misses at concurrency 64.

    core 0: the gateway (one worker, `cache.mode: memory`)
    core 1: the mock upstream + wrk (scripts/bench/cache.lua)

    misses   wrk -c64, every body unique (a counter in the prompt): lookup, upstream call,
             recording and store on every request
    hits     wrk -c64, one body over and over (stored by a warm-up request): lookup and replay

Target (issue 13): hits serve at least 2x the requests/s of misses. Prints both figures and
the ratio; exits 1 if wrk saw errors. Standalone (not part of `make bench`).

Environment: BENCH_SECONDS=10 (measured seconds per run), BENCH_WARMUP=2.
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

from procstat import free_port  # this script's own folder

HERE = Path(__file__).resolve().parent
LUA = HERE / "cache.lua"
KEY = "sk-bench-user-0000000000000000"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
GATEWAY_CORE, LOAD_CORE = "0", "1"

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


def wrk(port: int, seconds: int, unique: bool) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEY": KEY, "BENCH_MODEL": "bench"}
    env["BENCH_UNIQUE"] = "1" if unique else "0"
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
        results = {}
        for name, unique in (("misses", True), ("hits", False)):
            wrk(gateway_port, WARMUP, unique)
            results[name] = wrk(gateway_port, SECONDS, unique)
        hits, misses = results["hits"], results["misses"]
        ratio = hits["rps"] / max(misses["rps"], 1e-9)
        for name, result in results.items():
            print(
                f"{name:7s} {result['rps']:9.0f} req/s  p50 {result['p50_us'] / 1000:.2f} ms"
                f"  p99 {result['p99_us'] / 1000:.2f} ms  errors {result['errors']}"
            )
        verdict = "ok" if ratio >= 2 else "BELOW TARGET"
        print(f"hits/misses {ratio:.2f}x (target >= 2x): {verdict}")
        print("BENCH_JSON " + json.dumps({**results, "ratio": ratio}))
        if hits["errors"] or misses["errors"]:
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
