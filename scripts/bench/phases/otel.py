"""The `otel` phase: c64 requests/s through the gateway (telemetry off), then through a twin
gateway exporting every request's spans to an OTLP/HTTP sink (otlp_sink.py, load core)."""

from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
import sys
import time
from dataclasses import replace

from procs import gateway_argv, logged_figures
from procstat import free_port
from session import Bench
from settings import GATEWAY_CORE, LOAD_CORE, OTLP_SINK, log
from targets import sanity_check


def phase_otel(bench: Bench) -> None:
    """c64 through the gateway (telemetry off), then through a twin gateway, alone on the
    gateway core, that exports every request's spans to an OTLP/HTTP sink on the load core."""
    try:
        found = importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http")
    except ModuleNotFoundError:
        found = None
    if found is None:
        log("otel skipped: OpenTelemetry is not installed (pip install -e '.[otel]')")
        return
    servers, env = bench.servers, bench.env
    log("throughput c64 non-stream -> gateway, telemetry off")
    bench.results["otel_off"] = bench.measured_wrk(bench.gateway, 64, latency=True)
    workdir = servers.workdir
    sink_port, twin_port = free_port(), free_port()
    argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(OTLP_SINK)]
    sink = servers.start("otlp-sink", [*argv, "--port", str(sink_port)], env)
    sink_log = workdir / "otlp-sink.log"
    deadline = time.monotonic() + 20
    while "ready" not in sink_log.read_text():
        if sink.poll() is not None or time.monotonic() > deadline:
            servers.fail(f"the OTLP sink did not start: {sink_log.read_text()[-2000:]}")
        time.sleep(0.05)
    twin_db = workdir / "bench-otel.db"
    twin_env = {
        **env,
        "BENCH_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "BENCH_DB": str(twin_db),
    }
    argv = ["taskset", "-c", GATEWAY_CORE, *gateway_argv(twin_port)]
    twin = servers.start("gateway-otel", argv, twin_env)
    servers.wait_healthy("gateway-otel", twin, twin_port)
    target = replace(bench.gateway, name="gateway-otel", port=twin_port)
    sanity_check(target)
    bench.helpers.update(gateway_otel=twin.pid, otlp_sink=sink.pid)
    try:
        log("throughput c64 non-stream -> gateway, telemetry on (OTLP/HTTP sink on core 1)")
        bench.results["otel_on"] = on = bench.measured_wrk(target, 64, latency=True)
    finally:
        bench.helpers.pop("gateway_otel", None)
        bench.helpers.pop("otlp_sink", None)
        # The twin flushes its queued spans as it stops, then the sink counts them.
        for proc in (twin, sink):
            servers.stop_helper(proc, 60)
    on["cpu"]["gateway_cpu_s"] = on["cpu"].pop("gateway_otel_cpu_s")
    if (spans := logged_figures(sink_log)) is not None:
        on["sink"] = spans
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(f"file:{twin_db}?mode=ro", uri=True, timeout=5)) as db,
    ):
        # A request span, and one per attempt the log row lists (a request whose client
        # left during its attempt, as wrk does at the end of a run, has none).
        query = "SELECT count(*) + sum(json_array_length(attempts)) FROM request_logs"
        on["expected_spans"] = int(db.execute(query).fetchone()[0])
