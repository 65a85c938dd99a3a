"""The benchmark's fixed inputs and its BENCH_* knobs (described at the top of run.py), read
once at start so a bad value stops the run before any server starts."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: the runner is started with its python
CONFIG = HERE / "gateway.yaml"
LUA = HERE / "chat.lua"
TTFT = HERE / "ttft.py"
LIVE_TAIL = HERE / "live_tail.py"
OTLP_SINK = HERE / "otlp_sink.py"

USER_KEY = "sk-bench-user-0000000000000000"  # must match gateway.yaml
MASTER_KEY = "sk-bench-master-0000000000000000"  # gateway.yaml's too (live logs need it)
GATEWAY_MODEL = "bench"
MOCK_MODEL = "mock-model"
PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
CLAUDE_MODEL = "bench-claude"  # an anthropic backend on the mock's /v1/messages (gateway.yaml)
PROMPT = "Say hello in one short sentence."  # chat.lua's user message
ANTHROPIC_VERSION = "2023-06-01"
# The providers phase's paths, in report order: chat -> openai is the latency phase's figure.
PROVIDER_PATHS = {
    "openai": "chat -> openai",
    "chat_anthropic": "chat -> anthropic",
    "messages_anthropic": "messages -> anthropic",  # POST /v1/messages
}
STREAM_DIRECTIVE = "#mock chunks=20"
TTFT_DIRECTIVE = "#mock chunks=5 inter_ms=1"

GATEWAY_CORE = "0"
LOAD_CORE = "1"

TARGETS = {
    "added_p50_ms": 0.6,
    "added_p99_ms": 1.5,
    "added_ttft_ms": 0.6,
    "rps_c64": 3000,
    "streams_c32": 1000,
    "rss_mb": 100,
    # each anthropic path's added c1 p50 minus the openai pass-through's (issue 8)
    "provider_vs_openai_p50_ms": 0.1,
    # c64 requests/s with live-log subscribers attached vs without (issue 9)
    "live_drop_pct": 10.0,
    # c64 requests/s with telemetry exporting every request's spans vs off (issue 12)
    "otel_drop_pct": 10.0,
}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"bench: {name} must be a whole number, got {raw!r}")
    if value < 0:
        sys.exit(f"bench: {name} must be >= 0")
    return value


SECONDS = max(1, env_int("BENCH_SECONDS", 10))
WARMUP = env_int("BENCH_WARMUP", 2)
SKIP_SOAK = os.environ.get("BENCH_SKIP_SOAK", "") not in ("", "0")
SOAK_REQUESTS = max(2, env_int("BENCH_SOAK_REQUESTS", 100_000))
SERVER = os.environ.get("BENCH_SERVER", "uvicorn").strip() or "uvicorn"
JSON_OUT = os.environ.get("BENCH_JSON_OUT", "").strip()
PROFILE = os.environ.get("BENCH_PROFILE", "").strip()
PROFILE_C = max(1, env_int("BENCH_PROFILE_CONNECTIONS", 64))
PROFILE_ARGS = os.environ.get("BENCH_PROFILE_ARGS", "").split()  # e.g. "--gil" or "--idle"
PROFILE_PATH = os.environ.get("BENCH_PROFILE_PATH", "").strip() or "openai"
if PROFILE_PATH not in PROVIDER_PATHS:
    sys.exit(f"bench: BENCH_PROFILE_PATH must be one of {', '.join(PROVIDER_PATHS)}")
QUIET_TIMEOUT = env_int("BENCH_QUIET_TIMEOUT", 60)
LIVE_SUBSCRIBERS = max(1, env_int("BENCH_LIVE_SUBSCRIBERS", 20))
NOISE_LIMIT = 5.0  # % of one core used by other processes before a figure is flagged
RETRIES = env_int("BENCH_RETRIES", 2)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
