"""The `live` phase: c64 requests/s through the gateway without, then with, live-log
subscribers (live_tail.py on the load core) reading GET /admin/live/logs."""

from __future__ import annotations

import sys
import time

from procs import logged_figures
from session import Bench
from settings import LIVE_SUBSCRIBERS, LIVE_TAIL, LOAD_CORE, MASTER_KEY, log


def phase_live(bench: Bench) -> None:
    """c64 through the gateway without, then with, live-log subscribers reading."""
    gateway, servers = bench.gateway, bench.servers
    log("throughput c64 non-stream -> gateway, no live-log subscribers")
    bench.results["live_off"] = bench.measured_wrk(gateway, 64, latency=True)
    argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(LIVE_TAIL)]
    argv += ["--port", str(gateway.port), "--key", MASTER_KEY]
    argv += ["--count", str(LIVE_SUBSCRIBERS)]
    tails = servers.start("live-subscribers", argv, bench.env)
    logfile = servers.workdir / "live-subscribers.log"
    deadline = time.monotonic() + 20
    while "ready" not in logfile.read_text() and time.monotonic() < deadline:
        if tails.poll() is not None or "failed" in logfile.read_text():
            sys.exit(f"bench: live subscribers failed: {logfile.read_text()[-2000:]}")
        time.sleep(0.05)
    bench.helpers["live"] = tails.pid
    try:
        log(f"throughput c64 non-stream -> gateway, {LIVE_SUBSCRIBERS} live-log subscribers")
        bench.results["live_on"] = bench.measured_wrk(gateway, 64, latency=True)
    finally:
        del bench.helpers["live"]
        # Forgotten once stopped: a later phase's check_alive must not expect it running.
        servers.stop_helper(tails, 10)
    if (subscribers := logged_figures(logfile)) is not None:
        bench.results["live_on"]["subscribers"] = subscribers
