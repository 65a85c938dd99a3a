"""A memory-mode cache gateway per test module (`cgw`), and clients for it as alice: httpx
(`ch`), the openai SDK (`sdk`), the anthropic SDK (`claude`)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
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


@pytest.fixture
def sdk(cgw: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=cgw.url + "/v1", api_key=ALICE_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def claude(cgw: RunningGateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=cgw.url, api_key=ALICE_KEY, max_retries=0) as client:
        yield client
