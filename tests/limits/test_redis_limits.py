"""Limits in Redis hold exactly across processes: a real redis-server, two gateway processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sluicegate.limits.store import POOL_SIZE, LimitStoreUnavailable, RedisLimitStore
from sluicegate.limits.verdict import Scope
from support import MockUpstream, free_port, serve, wait_for_http


def test_concurrent_admits_never_exceed_the_limit(redis_url: str) -> None:
    async def burst() -> int:
        stores = [RedisLimitStore(redis_url) for _ in range(4)]
        scopes = [Scope("user", 20, None)]
        try:
            verdicts = await asyncio.gather(
                *(stores[i % 4].admit("burst-user", scopes, None, "budget:x") for i in range(60))
            )
        finally:
            for store in stores:
                await store.close()
        return sum(v.admitted for v in verdicts)

    assert asyncio.run(burst()) == 20


def test_a_burst_beyond_the_connection_pool_waits_and_stays_exact(redis_url: str) -> None:
    """300 admits at once in one process, 10 times the pool: each waits for a connection, none
    fails (a failure is Redis down to the limiter, which would admit it unchecked)."""

    async def burst() -> tuple[int, int]:
        store = RedisLimitStore(redis_url)
        scopes = [Scope("user", 20, None)]
        try:
            verdicts = await asyncio.gather(
                *(store.admit("pool-user", scopes, None, "budget:x") for _ in range(300))
            )
        finally:
            await store.close()
        return sum(v.admitted for v in verdicts), len(verdicts)

    assert POOL_SIZE * 9 < 300
    assert asyncio.run(burst()) == (20, 300)


def test_token_charges_and_budget_are_shared(redis_url: str) -> None:
    async def run() -> tuple[bool, bool, str | None]:
        a, b = RedisLimitStore(redis_url), RedisLimitStore(redis_url)
        scopes = [Scope("user", None, 100)]
        try:
            await a.charge("tok-user", scopes, 60, 0.5, "budget:day:x", 100)
            first = await b.admit("tok-user", scopes, 1.0, "budget:day:x")
            await b.charge("tok-user", scopes, 50, 0.6, "budget:day:x", 100)
            second = await a.admit("tok-user", scopes, None, "budget:day:x")
            third = await a.admit("tok-user", [Scope("user", None, None)], 1.0, "budget:day:x")
            return first.admitted, second.admitted, third.reason
        finally:
            await a.close()
            await b.close()

    assert asyncio.run(run()) == (True, False, "budget")


def test_unreachable_redis_is_reported_not_hung() -> None:
    async def run() -> None:
        store = RedisLimitStore(f"redis://127.0.0.1:{free_port()}/0")
        try:
            await store.admit("u", [Scope("user", 1, None)], None, "b")
        finally:
            await store.close()

    with pytest.raises(LimitStoreUnavailable):
        asyncio.run(run())


def test_two_gateway_processes_share_one_rpm_limit(
    redis_url: str, mock: MockUpstream, tmp_path: Path, tag: str
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""
server: {{master_key: sk-master-redis}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/gw.db"}}
redis: {{url: "{redis_url}"}}
backends:
  - {{name: mock, type: openai, base_url: "{mock.url}/v1", max_retries: 0}}
models:
  - {{name: m, targets: [{{backend: mock, model: mock-model}}]}}
users:
  - {{name: shared-{tag}, api_keys: [sk-shared-{tag}], models: ["*"], rpm: 5}}
"""
    )
    ports = [free_port(), free_port()]
    processes = [serve(config, port, tmp_path) for port in ports]
    try:
        for port in ports:
            wait_for_http(f"http://127.0.0.1:{port}/health", 30)
        statuses = []
        for i in range(12):
            response = httpx.post(
                f"http://127.0.0.1:{ports[i % 2]}/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": f"{tag} {i}"}]},
                headers={"authorization": f"Bearer sk-shared-{tag}"},
                timeout=20,
            )
            statuses.append(response.status_code)
        assert statuses.count(200) == 5, statuses
        assert statuses.count(429) == 7, statuses
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
