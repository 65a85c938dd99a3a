"""The load generators, run pinned to the load core: wrk with chat.lua for whole responses,
ttft.py for time to first token; each prints one `BENCH_JSON {...}` line that is read here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from settings import LOAD_CORE, LUA, STREAM_DIRECTIVE, TTFT, TTFT_DIRECTIVE, log
from targets import Target


def run_wrk(
    target: Target,
    connections: int,
    seconds: int,
    *,
    stream: bool = False,
    latency: bool = False,
) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        BENCH_KEY=target.key,
        BENCH_MODEL=target.model,
        BENCH_STREAM="1" if stream else "0",
        BENCH_DIRECTIVE=STREAM_DIRECTIVE if stream else "",
        BENCH_BODY=target.body,
        BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in target.headers.items()),
    )
    argv = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--timeout", "10s", "-s", str(LUA)]
    if latency:
        argv.append("--latency")
    argv.append(f"http://127.0.0.1:{target.port}{target.path}")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return parse_bench_json("wrk", argv, done)


def run_ttft(target: Target, seconds: int, warmup: int) -> dict[str, Any]:
    argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(TTFT)]
    argv += ["--port", str(target.port), "--model", target.model, "--key", target.key]
    argv += ["--seconds", str(seconds), "--warmup", str(warmup), "--directive", TTFT_DIRECTIVE]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return parse_bench_json("ttft", argv, done)


def parse_bench_json(tool: str, argv: list[str], done: subprocess.CompletedProcess[str]) -> Any:
    """The tool's figures; for wrk also its error total and requests/s. Exits, showing the
    tool's output, when it printed none (it failed)."""
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON ") :])
            if tool == "wrk":
                errors = sum(v for k, v in result.items() if k.startswith("err_"))
                result["errors"] = errors
                result["rps"] = result["requests"] / max(result["duration_us"], 1) * 1e6
                if errors:
                    counts = {k: v for k, v in result.items() if k.startswith("err_") and v}
                    log(f"wrk reported errors: {counts}")
            return result
    log(f"{tool} failed (exit {done.returncode}): {' '.join(argv)}")
    print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    raise SystemExit(1)
