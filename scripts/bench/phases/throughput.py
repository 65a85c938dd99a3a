"""The many-connection phases through the gateway and direct: c64 non-stream requests/s
(`rps`) and c32 20-chunk streams/s (`streams`)."""

from __future__ import annotations

from session import Bench
from settings import log


def phase_rps(bench: Bench) -> None:
    for target in bench.targets:
        log(f"throughput c64 non-stream -> {target.name}")
        bench.results[f"rps_{target.name}"] = bench.measured_wrk(target, 64, latency=True)


def phase_streams(bench: Bench) -> None:
    for target in bench.targets:
        log(f"streams c32, 20 chunks -> {target.name}")
        bench.results[f"streams_{target.name}"] = bench.measured_wrk(
            target, 32, stream=True, latency=True
        )
