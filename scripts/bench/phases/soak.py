"""The `soak` phase: the gateway's VmRSS across a long c64 non-stream run, and whether its
request log keeps up (rows written vs requests answered)."""

from __future__ import annotations

import contextlib
import math
import sqlite3
import time
from pathlib import Path

from load import run_wrk
from session import Bench
from settings import SOAK_REQUESTS, log
from window import wait_quiet


def log_rows(db_path: Path) -> int | None:
    """Rows in the gateway's request log (SQLite in the work dir), or None if unreadable.

    Compared with the requests answered, this shows whether the log writer keeps up: a
    growing difference is a backlog held in memory, which the RSS figures then include.
    """
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        ) as db:
            return int(db.execute("SELECT count(*) FROM request_logs").fetchone()[0])
    except sqlite3.Error:
        return None


def phase_soak(bench: Bench) -> None:
    """VmRSS at 0, half and all of SOAK_REQUESTS, counted from wrk's own totals.

    wrk cannot stop at a request count (its main thread sleeps for -d whatever the
    threads do), so the soak is a series of short c64 runs sized from the rate seen so
    far; each checkpoint is taken once at least that many requests were answered.
    """
    log(f"soak: {SOAK_REQUESTS:,} non-stream requests at c64 through the gateway")
    wait_quiet("soak")
    points = [(0, bench.rss_kb())]
    backlog: list[tuple[int, int | None]] = [(bench.gateway_requests, log_rows(bench.db_path))]
    served = 0
    rate = 0.0
    started = time.perf_counter()
    for goal in (SOAK_REQUESTS // 2, SOAK_REQUESTS):
        while served < goal:
            remaining = goal - served
            # Sized from the last run's own rate, rounded down: a short top-up run
            # beats overshooting the checkpoint by seconds of requests.
            seconds = 2 if rate == 0 else max(1, min(30, math.floor(remaining / rate)))
            result = run_wrk(bench.gateway, 64, seconds)
            if result["errors"]:
                bench.soak_errors += int(result["errors"])
            served += int(result["requests"])
            bench.gateway_requests += int(result["requests"])
            rate = float(result["rps"])
            bench.servers.check_alive()
        points.append((served, bench.rss_kb()))
        rows = log_rows(bench.db_path)
        backlog.append((bench.gateway_requests, rows))
        log(
            f"soak: {served:,} requests, VmRSS {points[-1][1] / 1024:.1f} MB"
            + (f", request-log rows {rows:,} of ~{bench.gateway_requests:,}" if rows else "")
        )
    elapsed = time.perf_counter() - started
    bench.results["soak"] = {
        "points": points,
        "rps": served / elapsed,
        "errors": bench.soak_errors,
        # (requests answered so far, rows in request_logs) at each checkpoint
        "log_rows": backlog,
        "total_gateway_requests": bench.gateway_requests,
    }
