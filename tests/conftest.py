"""Session-wide servers: one mock upstream and one gateway configured with backends that point
at it with different timeouts and retry settings (see `gateway_config`); and a real
redis-server per test module that asks for `redis_url`."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from sluicegate.config.schema import GatewayConfig
from sluicegate.limits.store import LimitStoreUnavailable, RedisLimitStore
from support import (
    ALICE_KEY,
    BOB_KEY,
    MASTER_KEY,
    NEVER_COOL,
    REASONER_KEY,
    SCRIBE_KEY,
    UPSTREAM_KEY,
    MockUpstream,
    RunningGateway,
    free_port,
    wait_until,
)

# The fuzz tests run with no example database (fixed seeds instead), but Hypothesis still keeps
# caches in ./.hypothesis; not in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "sluicegate-hypothesis")


def gateway_config(mock_url: str, database_url: str) -> GatewayConfig:
    def backend(name: str, retries: int, **timeouts: float) -> dict[str, object]:
        return {
            "name": name,
            "type": "openai",
            "base_url": mock_url + "/v1",
            "api_key": UPSTREAM_KEY,
            "max_retries": retries,
            "timeouts": {"connect": 2, "first_token": 5, "idle": 5, "total": 20, **timeouts},
            # Shared by every test: a breaker that never opens keeps tests independent.
            # Cooldowns are tested on gateways of their own (tests/routing/).
            "cooldown": NEVER_COOL,
        }

    return GatewayConfig.model_validate(
        {
            "database": {"url": database_url},
            "server": {
                "master_key": MASTER_KEY,
                "max_body_bytes": 16384,
                "keepalive_seconds": 0.3,
            },
            "backends": [
                backend("mock", 2),
                backend("noretry", 0),
                backend("tight", 0, first_token=0.5, idle=0.5, total=1.5),
                backend("short-total", 0, first_token=2, idle=2, total=1.0),
                {
                    "name": "dead",
                    "type": "openai",
                    "base_url": f"http://127.0.0.1:{free_port()}/v1",
                    "max_retries": 1,
                    "cooldown": NEVER_COOL,
                },
                {"name": "demo", "type": "demo", "models": ["demo-echo"]},
            ],
            "models": [
                {
                    "name": "m",
                    "targets": [{"backend": "mock", "model": "mock-model"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                },
                {"name": "noretry", "targets": [{"backend": "noretry", "model": "mock-model"}]},
                {"name": "tight", "targets": [{"backend": "tight", "model": "mock-model"}]},
                {
                    "name": "short-total",
                    "targets": [{"backend": "short-total", "model": "mock-model"}],
                },
                {
                    "name": "dead-then-m",
                    "targets": [{"backend": "dead", "model": "x"}],
                    "fallbacks": ["m"],
                },
                {"name": "demo-echo", "targets": [{"backend": "demo", "model": "demo-echo"}]},
            ],
            "users": [
                {"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]},
                {"name": "bob", "api_keys": [BOB_KEY], "models": ["m", "demo/*"]},
                {
                    "name": "scribe",
                    "api_keys": [SCRIBE_KEY],
                    "models": ["*"],
                    "detail_logging": True,
                },
                {
                    "name": "reasoner",
                    "api_keys": [REASONER_KEY],
                    "models": ["*"],
                    "copy_reasoning_to_reasoning_content": True,
                },
            ],
        }
    )


@pytest.fixture(scope="session")
def mock() -> Iterator[MockUpstream]:
    upstream = MockUpstream()
    yield upstream
    upstream.stop()


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder}/gateway.db"


@pytest.fixture(scope="session")
def gateway(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = RunningGateway(gateway_config(mock.url, sqlite_url(tmp_path_factory.mktemp("gw"))))
    yield running
    running.stop()


@pytest.fixture
def tag() -> str:
    """A unique word to put in a prompt, to find this test's request in the mock's records."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, headers={"authorization": f"Bearer {ALICE_KEY}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required (make test installs it: scripts/test-deps.sh)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    async def ping() -> bool:
        store = RedisLimitStore(url)
        try:
            return await store.ping()
        except LimitStoreUnavailable:
            return False
        finally:
            await store.close()

    wait_until(lambda: asyncio.run(ping()), 20, 0.05)
    yield url
    process.terminate()
    process.wait(10)
