"""A memory-mode cache gateway per test module (`cgw`), and an httpx client for it as alice."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support import ALICE_KEY, MockUpstream, RunningGateway

from .harness import cache_config


@pytest.fixture(scope="module")
def cgw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = RunningGateway(cache_config(mock.url, tmp_path_factory.mktemp("cache")))
    yield running
    running.stop()


@pytest.fixture
def ch(cgw: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=cgw.url, headers=headers, timeout=30) as client:
        yield client
