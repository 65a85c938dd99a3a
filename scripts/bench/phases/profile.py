"""BENCH_PROFILE: py-spy on the gateway for BENCH_SECONDS under wrk load (not measured), run
after the rps slot whatever BENCH_PHASES says, so a profile needs no measured phase."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from load import run_wrk
from session import Bench
from settings import (
    BIN,
    LOAD_CORE,
    PROFILE,
    PROFILE_ARGS,
    PROFILE_C,
    PROFILE_PATH,
    PROVIDER_PATHS,
    SECONDS,
    SERVER,
    log,
)
from targets import anthropic_targets


def phase_profile(bench: Bench) -> None:
    found = BIN / "py-spy" if (BIN / "py-spy").exists() else shutil.which("py-spy")
    if found is None:
        log("BENCH_PROFILE: py-spy is not installed in the venv nor on PATH; skipped")
        return
    py_spy = Path(found)
    gateway = bench.gateway
    if PROFILE_PATH != "openai":
        gateway = anthropic_targets(gateway)[PROFILE_PATH]
    log(
        f"profiling the gateway ({PROVIDER_PATHS[PROFILE_PATH]}) under c{PROFILE_C} for "
        f"{SECONDS}s -> {PROFILE}"
    )
    argv = ["taskset", "-c", LOAD_CORE, str(py_spy), "record", "--nonblocking"]
    fmt = "speedscope"
    if PROFILE.endswith(".svg"):
        fmt = "flamegraph"
    elif PROFILE.endswith((".txt", ".folded")):
        fmt = "raw"  # collapsed stacks, one line per stack with its sample count
    argv += ["--format", fmt, "-o", PROFILE, "-d", str(SECONDS)]
    argv += ["-r", "250", "-p", str(bench.gateway_pid), *PROFILE_ARGS]
    if SERVER == "granian":
        argv.append("--subprocesses")
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let py-spy attach before the load starts; it runs for SECONDS
    run_wrk(gateway, PROFILE_C, SECONDS)
    try:
        _, err = spy.communicate(timeout=SECONDS + 30)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate()
    if spy.returncode != 0:
        log(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")
