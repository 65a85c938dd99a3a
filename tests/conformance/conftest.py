"""One gateway for the conformance suite: a model per backend type, each named after its type
and served by the session mock, with no retries and short timeouts; and the door-by-backend
parameters every test of the suite runs under."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sluicegate.config.schema import GatewayConfig
from support import ALICE_KEY, NEVER_COOL, UPSTREAM_KEY, MockUpstream, RunningGateway

from .doors import DOORS, FrontDoor

# Short enough to keep the suite fast, long enough for a loaded 2-core machine: the mock
# answers in milliseconds; `ttft_ms` above FIRST_TOKEN_S is the first-token fault.
FIRST_TOKEN_S = 0.5
TIMEOUTS = {"connect": 2, "first_token": FIRST_TOKEN_S, "idle": 3, "total": 10}

# backend type → (base URL below the mock's root, upstream model or deployment, extra keys)
BACKENDS: dict[str, tuple[str, str, dict[str, object]]] = {
    "openai": ("/v1", "mock-model", {}),
    "anthropic": ("", "claude-x", {}),
    "gemini": ("", "gemini-2.5-flash", {}),
    "azure": ("", "my-deployment", {"api_version": "2024-06-01"}),
}


def conformance_config(mock_url: str, folder: Path) -> GatewayConfig:
    backends = [
        {
            "name": kind,
            "type": kind,
            "base_url": mock_url + suffix,
            "api_key": UPSTREAM_KEY,
            "max_retries": 0,
            "timeouts": TIMEOUTS,
            "cooldown": NEVER_COOL,
            **extra,
        }
        for kind, (suffix, _, extra) in BACKENDS.items()
    ]
    models = [
        {"name": kind, "targets": [{"backend": kind, "model": model}]}
        for kind, (_, model, _) in BACKENDS.items()
    ]
    return GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "backends": backends,
            "models": models,
            "users": [{"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]}],
        }
    )


@pytest.fixture(scope="package")
def gateway(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = RunningGateway(conformance_config(mock.url, tmp_path_factory.mktemp("conformance")))
    yield running
    running.stop()


@pytest.fixture(params=DOORS, ids=lambda door: door.id)
def door(request: pytest.FixtureRequest) -> FrontDoor:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    """The backend type under test; also its backend's and its model's name."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def http(gateway: RunningGateway, door: FrontDoor) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers=door.headers, timeout=15) as client:
        yield client
