"""Worker scaling (`make bench-workers`, issue 11): c64 non-stream requests/s through
`serve --workers 1` and `--workers 2`, and the memory of each worker.

    --workers 1: the gateway on core 0; the mock and wrk on core 1 (as `make bench`)
    --workers 2: the gateway's two workers on cores 0 and 1, sharing core 1 with the mock
                 and wrk: on a 2-core machine the second worker has no core of its own

So on two cores the second worker's gain is bounded by what the mock and wrk leave of core 1;
the script prints core 1's busy share during each run and the gain over one worker, and the
RSS of each worker process (the supervisor is listed apart). With 4 or more cores set
BENCH_WORKER_CORES=0,1 and BENCH_LOAD_CORES=2,3 to give the load its own cores.

Environment: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_WORKER_CORES, BENCH_LOAD_CORES.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import settings
from procs import Servers, server_env
from procstat import core_times, descendants, free_port, rss_mb
from targets import Target

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
WORKER_CORES = os.environ.get("BENCH_WORKER_CORES", "0,1")
LOAD_CORES = os.environ.get("BENCH_LOAD_CORES", "1")
BIN = Path(sys.executable).parent


def is_worker(pid: int) -> bool:
    """A uvicorn worker, not multiprocessing's resource tracker (also a child)."""
    try:
        return b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def measure(workers: int, workdir: Path) -> dict[str, float]:
    from load import run_wrk  # after LOAD_CORE is set below

    mock_port, port = free_port(), free_port()
    servers = Servers(workdir)
    env = server_env(mock_port, workdir / f"w{workers}")
    (workdir / f"w{workers}").mkdir(exist_ok=True)
    env["BENCH_DB"] = str(workdir / f"w{workers}" / "bench.db")
    cores = WORKER_CORES if workers > 1 else WORKER_CORES.split(",")[0]
    try:
        mock = servers.start(
            "mock",
            ["taskset", "-c", LOAD_CORES, str(BIN / "sluicegate"), "mock-upstream",
             "--port", str(mock_port)],
            env,
        )  # fmt: skip
        servers.wait_healthy("mock", mock, mock_port)
        gateway = servers.start(
            f"gateway-{workers}",
            ["taskset", "-c", cores, str(BIN / "sluicegate"), "serve", "--config",
             str(settings.CONFIG), "--port", str(port), "--workers", str(workers)],
            env,
        )  # fmt: skip
        servers.wait_healthy("gateway", gateway, port)
        target = Target("gateway", port, settings.GATEWAY_MODEL, settings.USER_KEY)
        run_wrk(target, 64, WARMUP)
        before = core_times()
        result = run_wrk(target, 64, SECONDS)
        after = core_times()
        load_core = LOAD_CORES.split(",")[-1]
        busy = after[load_core][0] - before[load_core][0]
        total = after[load_core][1] - before[load_core][1]
        children = [
            pid for pid in descendants(gateway.pid) if pid != gateway.pid and is_worker(pid)
        ]
        time.sleep(0.2)
        return {
            "rps": result["rps"],
            "errors": result["errors"],
            "load_core_busy": busy / max(total, 1),
            "worker_rss": [rss_mb(pid) for pid in children] if workers > 1 else [],
            "rss": rss_mb(gateway.pid),
        }
    finally:
        servers.stop()


def main() -> None:
    settings.LOAD_CORE = LOAD_CORES
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-workers-"))
    one = measure(1, workdir)
    two = measure(2, workdir)
    gain = two["rps"] / one["rps"] - 1
    print(f"workers 1: {one['rps']:8.0f} req/s, RSS {one['rss']:.1f} MB,"
          f" load core busy {100 * one['load_core_busy']:.0f}%")  # fmt: skip
    rss = ", ".join(f"{value:.1f}" for value in two["worker_rss"])
    print(f"workers 2: {two['rps']:8.0f} req/s, workers' RSS {rss} MB (supervisor"
          f" {two['rss']:.1f} MB), load core busy {100 * two['load_core_busy']:.0f}%")  # fmt: skip
    print(f"the second worker adds {100 * gain:.0f}% of the first's throughput (target >= 80%)")
    if one["errors"] or two["errors"]:
        raise SystemExit("bench: wrk saw errors")


if __name__ == "__main__":
    main()
