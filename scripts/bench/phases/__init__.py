"""The registry of phases: name -> function of the run's Bench, in the order they run;
BENCH_PHASES picks from it (run.py)."""

from __future__ import annotations

from collections.abc import Callable

from session import Bench

from phases.latency import phase_latency, phase_providers, phase_ttft
from phases.live import phase_live
from phases.otel import phase_otel
from phases.soak import phase_soak
from phases.throughput import phase_rps, phase_streams

Phase = Callable[[Bench], None]

# Order matters: run.py runs the BENCH_PROFILE profile right after "rps", and reads the RSS
# figures right after "soak"; phases listed after "soak" do not count in them (live's first
# admin request loads the admin app, ~11 MB).
PHASES: dict[str, Phase] = {
    "latency": phase_latency,
    "providers": phase_providers,
    "rps": phase_rps,
    "ttft": phase_ttft,
    "streams": phase_streams,
    "soak": phase_soak,
    "live": phase_live,
    "otel": phase_otel,
}
