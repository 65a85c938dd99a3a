"""The benchmark behind `make bench` (started by scripts/bench.sh): gateway vs direct-to-mock.

    core 0: the gateway alone (one worker, uvicorn or granian)
    core 1: the mock upstream + the load generator (wrk, or ttft.py) + this runner (idle)

Phases, each run against the mock directly and then through the gateway, each with a short
warm-up run first (not measured):

    latency   wrk -t1 -c1  --latency, non-stream chat       p50 / p99, added = gateway - direct
    providers wrk -t1 -c1  --latency, non-stream, per path   added p50 / p99 of each path, and
              chat -> openai (the latency phase's figure     each anthropic path's added p50
              when it ran), chat -> anthropic (translated),  minus the openai path's
              /v1/messages -> anthropic (pass-through);
              direct: the mock's /v1/messages with the
              body and headers the gateway sent it
    rps       wrk -t1 -c64, non-stream chat                  requests/s, gateway CPU per 1k
    ttft      ttft.py, sequential streams (c1)               time to first data: line
    streams   wrk -t1 -c32, 20-chunk streams                 streams/s, gateway CPU per 1k
    soak      wrk -t1 -c64, 100k non-stream (gateway only)   VmRSS at 0 / 50k / 100k, and
                                                             request-log rows vs requests
    live      wrk -t1 -c64, non-stream (gateway only),     requests/s without and with the
              first alone, then with 20 subscribers on      subscribers, the drop (target
              GET /admin/live/logs (live_tail.py on the     <= 10%), events each subscriber
              load core) reading everything                 received
    otel      wrk -t1 -c64, non-stream: the gateway          requests/s off and on, the drop
              (telemetry off), then a twin gateway with     (target <= 10%), gateway CPU per
              telemetry.otlp_endpoint on an OTLP/HTTP sink  request, spans the sink received
              (otlp_sink.py, load core) that discards      vs the twin's log rows + attempts

Environment:
    BENCH_SECONDS=10        measured seconds per run (2 for a smoke run)
    BENCH_WARMUP=2          warm-up seconds before each measured run
    BENCH_SKIP_SOAK=1       skip the 100k-request RSS phase
    BENCH_SOAK_REQUESTS     requests in the soak phase (default 100000, two halves)
    BENCH_PHASES=a,b        run only these phases (latency,providers,rps,ttft,streams,soak,
                            live,otel,held; held: held.py, run by scripts/bench.sh after
                            the others, with servers of its own);
                            an empty value runs none (with BENCH_PROFILE: just the profile)
    BENCH_SERVER=granian    run the gateway under granian instead of uvicorn
    BENCH_JSON_OUT=path     also write every figure as JSON to `path`
    BENCH_PROFILE=path      after the rps phase, run py-spy on the gateway for BENCH_SECONDS
                            under the same c64 load (not measured); path.svg: flame graph,
                            path.txt: collapsed stacks, anything else: speedscope JSON;
                            BENCH_PROFILE_CONNECTIONS=1 profiles the c1 load instead;
                            BENCH_PROFILE_ARGS="--gil" passes extra py-spy options;
                            BENCH_PROFILE_PATH=chat_anthropic or messages_anthropic profiles
                            that provider path instead of chat -> openai
    BENCH_LIVE_SUBSCRIBERS=20  live-log subscribers attached in the live phase
    BENCH_RETRIES=2         a measured run during which other processes used > 5% of a core
                            is repeated up to this many times; the quietest run is kept
    BENCH_QUIET_TIMEOUT=60  seconds to wait for other processes to leave the cores idle
                            before each measured run (0: do not wait)

Every measured run also records how busy each core was and how much CPU processes other
than ours used: a figure taken on a machine that was not quiet is flagged with `!`.

This file is only the entry: it starts the servers and runs the phases BENCH_PHASES picks
from the registry in phases/__init__.py; the layout is in docs/benchmarks.md ("How the
benchmark code is laid out").
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from phases import PHASES
from phases.profile import phase_profile
from procs import Servers, gateway_argv, imported_from, server_env
from procstat import free_port
from report import publish
from session import Bench
from settings import (
    BIN,
    GATEWAY_CORE,
    GATEWAY_MODEL,
    LOAD_CORE,
    MOCK_MODEL,
    PROFILE,
    ROOT,
    SECONDS,
    SERVER,
    SKIP_SOAK,
    USER_KEY,
    WARMUP,
    log,
)
from targets import Target, sanity_check

SELECTED = [p.strip() for p in os.environ.get("BENCH_PHASES", ",".join(PHASES)).split(",")]
# `held` is run by scripts/bench.sh after this script (held.py starts servers of its own).
if unknown := [p for p in SELECTED if p and p != "held" and p not in PHASES]:
    sys.exit(f"bench: unknown BENCH_PHASES {unknown}; choose from {','.join(PHASES)}")


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "revision": revision or "unknown",
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "server": SERVER,
        "seconds": SECONDS,
        "warmup": WARMUP,
    }


def run_phases(bench: Bench, meta: dict[str, Any]) -> None:
    """The selected phases in registry order, with the two fixed steps between them: the
    profile after the rps slot, the RSS readings after the soak slot."""
    for name, phase in PHASES.items():
        if name == "soak" and SKIP_SOAK:
            log("soak skipped (BENCH_SKIP_SOAK=1)")
        elif name in SELECTED:
            phase(bench)
        if name == "rps" and PROFILE:
            phase_profile(bench)
        if name == "soak":
            meta["rss_peak_kb"] = bench.rss_kb("VmHWM")
            meta["rss_end_kb"] = bench.rss_kb()


def main() -> None:
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs at least 2 CPU cores (gateway on core 0, load on core 1)")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found on PATH (apt-get install wrk util-linux)")
    meta = machine()
    log(
        f"{meta['cpus']} cores, {meta['cpu_model'] or 'unknown CPU'}; server={SERVER}, "
        f"{SECONDS}s runs after {WARMUP}s warm-up"
    )
    # Pin the runner itself to the load core so it never steals from the gateway.
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    mock_port, gateway_port = free_port(), free_port()
    while gateway_port == mock_port:
        gateway_port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-bench-"))
    servers = Servers(workdir)
    env = server_env(mock_port, workdir)
    log(f"servers import {imported_from(env, workdir)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        mock = servers.start(
            "mock",
            ["taskset", "-c", LOAD_CORE, str(BIN / "sluicegate"), "mock-upstream", "--port",
             str(mock_port)],
            env,
        )  # fmt: skip
        servers.wait_healthy("mock", mock, mock_port)
        gateway = servers.start(
            "gateway", ["taskset", "-c", GATEWAY_CORE, *gateway_argv(gateway_port)], env
        )
        servers.wait_healthy("gateway", gateway, gateway_port)
        direct_t = Target("direct", mock_port, MOCK_MODEL, USER_KEY)
        gateway_t = Target("gateway", gateway_port, GATEWAY_MODEL, USER_KEY)
        sanity_check(direct_t)
        sanity_check(gateway_t)
        bench = Bench(servers, env, direct_t, gateway_t, gateway.pid, mock.pid,
                      Path(env["BENCH_DB"]))  # fmt: skip
        bench.gateway_requests = 2  # the sanity check's two requests
        meta["rss_start_kb"] = bench.rss_kb()
        meta["gateway_processes"] = len(bench.gateway_pids())
        log(
            f"mock on 127.0.0.1:{mock_port} (core {LOAD_CORE}), gateway on 127.0.0.1:"
            f"{gateway_port} (core {GATEWAY_CORE}), RSS {meta['rss_start_kb'] / 1024:.1f} MB"
        )
        run_phases(bench, meta)
    except KeyboardInterrupt:
        log("interrupted")
        raise SystemExit(130) from None
    finally:
        servers.stop()
    publish(bench.results, meta)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
