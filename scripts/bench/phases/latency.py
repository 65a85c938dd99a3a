"""The one-connection phases: non-stream latency (`latency`), the same per provider path
(`providers`), and time to first token of sequential streams (`ttft`)."""

from __future__ import annotations

from typing import Any

from load import run_ttft
from session import Bench
from settings import PROVIDER_PATHS, SECONDS, WARMUP, log
from targets import Target, anthropic_targets, as_forwarded


def phase_latency(bench: Bench) -> None:
    for target in bench.targets:
        log(f"latency c1 non-stream -> {target.name}")
        bench.results[f"latency_{target.name}"] = bench.measured_wrk(target, 1, latency=True)


def phase_providers(bench: Bench) -> None:
    """c1 latency of the two anthropic paths, each direct and through the gateway, next
    to chat -> openai (the latency phase's figure, measured here if it did not run)."""
    if "latency_gateway" not in bench.results:
        phase_latency(bench)
    for key, gateway in anthropic_targets(bench.gateway).items():
        direct = as_forwarded(gateway, bench.mock_port)
        bench.gateway_requests += 1
        for target in (direct, gateway):
            log(f"latency c1 non-stream {PROVIDER_PATHS[key]} -> {target.name}")
            bench.results[f"providers_{key}_{target.name}"] = bench.measured_wrk(
                target, 1, latency=True
            )


def phase_ttft(bench: Bench) -> None:
    for target in bench.targets:
        log(f"TTFT c1 stream -> {target.name}")

        def once(target: Target = target) -> dict[str, Any]:
            with bench.window() as window:
                result = run_ttft(target, SECONDS, WARMUP)
            result["cpu"] = window.result
            if target.name == "gateway":
                bench.gateway_requests += int(result["count"]) + int(result["warmup_count"])
            return result

        bench.results[f"ttft_{target.name}"] = bench.quietest(f"ttft {target.name}", once)
