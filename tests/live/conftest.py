"""Fixtures of the live-log tests: a gateway with a short heartbeat and small bounds, so that
replay limits and the slow-subscriber rule are reached with a few dozen requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sluicegate.config.schema import DatabaseConfig, GatewayConfig, LiveConfig
from support import ALICE_KEY, RunningGateway

BUFFER_EVENTS = 64
QUEUE_EVENTS = 16
HEARTBEAT_SECONDS = 0.3


def config_like(gateway: RunningGateway, database_url: str, **changes: Any) -> GatewayConfig:
    """The session gateway's config (its backends on the mock, its users) with a database of
    its own, a short heartbeat and `changes`."""
    return gateway.app.config.model_copy(
        update={
            "database": DatabaseConfig(url=database_url),
            "live": LiveConfig(heartbeat_seconds=HEARTBEAT_SECONDS),
            **changes,
        }
    )


@pytest.fixture(scope="module")
def live_gateway(
    gateway: RunningGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("live")
    live = LiveConfig(
        heartbeat_seconds=HEARTBEAT_SECONDS,
        buffer_events=BUFFER_EVENTS,
        queue_events=QUEUE_EVENTS,
    )
    running = RunningGateway(config_like(gateway, f"sqlite+aiosqlite:///{folder}/gw.db", live=live))
    yield running
    running.stop()


@pytest.fixture
def user(live_gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_gateway.url, headers={"authorization": f"Bearer {ALICE_KEY}"}, timeout=30
    ) as client:
        yield client


def chat(client: httpx.Client, text: str, model: str = "m", stream: bool = False) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", json=body)
