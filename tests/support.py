"""Test harness: real servers on loopback ports.

- `MockUpstream`: `sluicegate mock-upstream` as a subprocess (the CLI is exercised too).
- `RunningGateway`: the gateway app under uvicorn (uvloop, httptools) in a thread, so tests
  see every published Completion; clients reach it only over TCP.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sluicegate.app import build_app
from sluicegate.config import GatewayConfig
from sluicegate.config.schema import DatabaseConfig
from sluicegate.hooks.bus import HookBus
from sluicegate.record import Completion, Usage
from sluicegate.server.protocol import LIMITS_ATTRIBUTE, ClientLimits, GuardedHttpToolsProtocol

ROOT = Path(__file__).resolve().parent.parent

# Keys of the session gateway's users (tests/conftest.py `gateway_config`).
MASTER_KEY = "sk-master-test"
ALICE_KEY = "sk-alice-test-key"  # models: *
BOB_KEY = "sk-bob-test-key"  # models: m, demo/*
REASONER_KEY = "sk-reasoner-test-key"  # copy_reasoning_to_reasoning_content
SCRIBE_KEY = "sk-scribe-test-key"  # detail_logging
UPSTREAM_KEY = "upstream-secret-key"
NEVER_COOL = {"failures": 1_000_000, "seconds": 0}


def clean_env() -> dict[str, str]:
    """The environment without anything that would configure a gateway behind a test's back."""
    drop = {
        "SLUICEGATE_MASTER_KEY",
        "SLUICEGATE_CONFIG",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "DETAIL_STREAM_LOG_MODE",
        "PROMETHEUS_MULTIPROC_DIR",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sluicegate(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the `sluicegate` command to completion in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "sluicegate", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def serve(
    config: Path, port: int, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`sluicegate serve --config ... --port ...` as a subprocess (stdout and stderr dropped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sluicegate", "serve", "--config", str(config), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    def ready() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout, 0.05)


class MockUpstream:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sluicegate", "mock-upstream", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_for_http(self.url + "/health")

    def requests(self, contains: str | None = None) -> list[dict[str, Any]]:
        params = {"contains": contains} if contains else None
        response = httpx.get(self.url + "/_mock/requests", params=params, timeout=5.0)
        return list(response.json()["requests"])

    def request(self, contains: str) -> dict[str, Any]:
        """The one recorded request whose text contains `contains` (waits for it)."""
        found = wait_until(lambda: self.requests(contains))
        assert len(found) == 1, found
        return found[0]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class RunningGateway:
    def __init__(self, config: GatewayConfig, http: Any = GuardedHttpToolsProtocol) -> None:
        """`http`: the uvicorn protocol; ours by default, as `sluicegate serve` runs it."""
        if config.database.url == DatabaseConfig().url:
            # Never the working directory's ./sluicegate.db: a private SQLite file per gateway.
            folder = tempfile.mkdtemp(prefix="sluicegate-test-")
            database = DatabaseConfig(url=f"sqlite+aiosqlite:///{folder}/gateway.db")
            config = config.model_copy(update={"database": database})
        self.bus = HookBus()
        self.completions: list[Completion] = []
        self.bus.subscribe(self.completions.append)
        self.app = build_app(config, self.bus)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        uv_config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http=http,
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
        limits = ClientLimits(config.server.header_timeout_seconds, config.server.max_header_bytes)
        setattr(uv_config, LIMITS_ATTRIBUTE, limits)
        self.server = uvicorn.Server(uv_config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 20.0)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def begin_drain(self) -> None:
        """What SIGTERM does to `sluicegate serve`, without uvicorn closing the listener and
        idle connections (signals reach only the main thread; this gateway runs in another)."""
        self.loop.call_soon_threadsafe(self.app.begin_drain)

    def completion(self, request_id: str, timeout: float = 10.0) -> Completion:
        """The Completion of `request_id`, once published; fails if there is more than one."""

        def found() -> list[Completion]:
            return [c for c in list(self.completions) if c.request_id == request_id]

        matches = wait_until(found, timeout)
        assert len(matches) == 1, matches
        return matches[0]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


# A finished request to write into the request log, for storage, log writer and analytics tests.
T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

BASE_COMPLETION = Completion(
    request_id="r",
    created_at=T0.timestamp(),
    path="/v1/chat/completions",
    user_id="alice",
    key_id="k1",
    model="m1",
    resolved_model="gpt-4o",
    backend="b1",
    stream=False,
    status_code=200,
    error_type=None,
    error_message=None,
    usage=Usage(10, 5, 15),
    cost_usd=0.25,
    latency_ms=120.5,
    ttft_ms=None,
    overhead_ms=1.0,
)


def completion(index: int, at: datetime = T0, **changes: Any) -> Completion:
    """BASE_COMPLETION as request `r<index>` finished at `at`, with `changes`."""
    return replace(BASE_COMPLETION, request_id=f"r{index}", created_at=at.timestamp(), **changes)
