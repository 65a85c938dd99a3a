"""Redis mode: entries shared by two gateways on one real redis-server, expiring by TTL; a Redis
that is down costs the cache, never the request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as redis

from support import ALICE_KEY, MockUpstream, RunningGateway, free_port, wait_until

from .harness import HEADER, cache_config, chat

CHAT = "/v1/chat/completions"


def client_of(gw: RunningGateway) -> httpx.Client:
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    return httpx.Client(base_url=gw.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def pair(
    mock: MockUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    gateways = []
    for name in ("a", "b"):
        config = cache_config(mock.url, tmp_path_factory.mktemp(name), mode="redis", ttl_seconds=30)
        config = config.model_copy(
            update={"redis": config.redis.model_copy(update={"url": redis_url})}
        )
        gateways.append(RunningGateway(config))
    yield gateways[0], gateways[1]
    for gw in gateways:
        gw.stop()


async def _ttls(url: str) -> list[int]:
    client = redis.Redis.from_url(url)
    try:
        return [await client.ttl(key) async for key in client.scan_iter("sgc:*")]
    finally:
        await client.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_entry_stored_by_one_gateway_is_a_hit_on_the_other(
    pair: tuple[RunningGateway, RunningGateway],
    mock: MockUpstream,
    redis_url: str,
    tag: str,
    stream: bool,
) -> None:
    a, b = pair
    body = chat(f"{tag} #mock chunks=2", stream=stream)
    before = len(asyncio.run(_ttls(redis_url)))
    with client_of(a) as on_a, client_of(b) as on_b:
        first = on_a.post(CHAT, json=body)
        assert first.headers[HEADER] == "miss"
        # Written in the background after the answer: wait for the key.
        ttls = wait_until(lambda: (t := asyncio.run(_ttls(redis_url))) and len(t) > before and t)
        second = on_b.post(CHAT, json=body)
        assert second.headers[HEADER] == "hit"
        assert second.content == first.content
        # The same entry serves the other kind too, converted (test_across_chat.py).
        other = on_b.post(CHAT, json={**body, "stream": not stream})
        assert (other.status_code, other.headers[HEADER]) == (200, "hit")
        assert other.text.endswith("data: [DONE]\n\n") is not stream
    assert len(mock.requests(tag)) == 1
    assert b.completion(second.headers["x-request-id"]).cache_hit
    assert all(0 < ttl <= 30 for ttl in ttls)


def test_a_redis_that_is_down_is_bypassed(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory, tag: str
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    config = cache_config(mock.url, tmp_path_factory.mktemp("down"), down, mode="redis")
    gw = RunningGateway(config)
    try:
        with client_of(gw) as client:
            for stream in (False, False, True):
                response = client.post(CHAT, json=chat(f"{tag} #mock chunks=2", stream=stream))
                assert (response.status_code, response.headers[HEADER]) == (200, "bypass")
                row = gw.completion(response.headers["x-request-id"])
                assert (row.cache, row.error_type) == ("bypass", None)
        assert len(mock.requests(tag)) == 3
    finally:
        gw.stop()
