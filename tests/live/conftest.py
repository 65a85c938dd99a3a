"""Fixtures of the live-log tests: a gateway with a short heartbeat and small bounds, so that
replay limits and the slow-subscriber rule are reached with a few dozen requests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import gateway_config, sqlite_url
from support import ALICE_KEY, MockUpstream, RunningGateway

BUFFER_EVENTS = 64
QUEUE_EVENTS = 16
HEARTBEAT_SECONDS = 0.3


@pytest.fixture(scope="module")
def live_gateway(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = gateway_config(mock.url, sqlite_url(tmp_path_factory.mktemp("live")))
    live = {
        "heartbeat_seconds": HEARTBEAT_SECONDS,
        "buffer_events": BUFFER_EVENTS,
        "queue_events": QUEUE_EVENTS,
    }
    config = config.model_copy(update={"live": config.live.model_validate(live)})
    running = RunningGateway(config)
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
