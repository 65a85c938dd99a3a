"""Shared circuit breakers (decision 28): transitions published through a real redis-server
reach the other processes' boards, and a target that trips in one gateway is skipped by
another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis

from sluicegate.cluster.breakers import CHANNEL, BreakerSync
from sluicegate.config.schema import BackendConfig
from sluicegate.providers.openai import OpenAIProvider
from sluicegate.routing.health import HealthBoard
from sluicegate.routing.table import Target
from support import MockUpstream, free_port, serve, wait_for_http, wait_until


def _target(failures: int = 2, seconds: float = 30.0) -> Target:
    config = BackendConfig(
        name="b",
        type="openai",
        base_url="http://127.0.0.1:9/v1",
        cooldown={"failures": failures, "seconds": seconds},
    )
    return Target(OpenAIProvider(config), "m")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def opened(self, backend: str, model: str, seconds: float) -> None:
        self.events.append(("open", backend, model, seconds))

    def closed(self, backend: str, model: str) -> None:
        self.events.append(("close", backend, model))


def test_the_board_reports_transitions_only() -> None:
    board, recorder, target = HealthBoard(), Recorder(), _target(failures=2, seconds=30)
    board.listener = recorder
    board.failed(target)
    assert recorder.events == []  # one failure of two: still closed
    board.failed(target)
    assert recorder.events == [("open", "b", "m", 30.0)]
    board.reachable(target)
    board.succeeded(target, 0.1)  # already closed: nothing more to say
    assert recorder.events == [("open", "b", "m", 30.0), ("close", "b", "m")]


def test_remote_transitions_open_and_close_the_local_breaker() -> None:
    board, target = HealthBoard(), _target()
    board.apply_open("b", "m", 30)
    assert board.cooling(target)
    assert board.rows() == [("b", "m", "open", 0, 0)]
    board.apply_open("b", "m", 0.001)  # a shorter remote open never shortens a longer one
    assert board.cooling(target, time.monotonic() + 1)
    board.apply_close("b", "m")
    assert not board.cooling(target)
    board.apply_close("x", "y")  # unknown targets stay unknown
    assert len(board.rows()) == 1


def _run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())


async def _until(predicate: Callable[[], bool]) -> None:
    """Poll on the running loop (the subscriber tasks run there) for up to 10 s."""
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 (state changes in other tasks, no event)
            await asyncio.sleep(0.01)


def test_transitions_travel_between_processes_through_redis(redis_url: str) -> None:
    async def scenario() -> None:
        boards = [HealthBoard(), HealthBoard()]
        syncs = [BreakerSync(redis_url, b.apply_open, b.apply_close) for b in boards]
        for board, sync in zip(boards, syncs, strict=True):
            board.listener = sync
            sync.start()
        target = _target(failures=1, seconds=30)
        try:
            await asyncio.gather(*(s.subscribed.wait() for s in syncs))
            boards[0].failed(target)  # trips in "process" 0 ...
            await _until(lambda: boards[1].cooling(target))  # ... and 1 skips it too
            # A process that subscribes later learns the open breaker from its key.
            late = HealthBoard()
            late_sync = BreakerSync(redis_url, late.apply_open, late.apply_close)
            late_sync.start()
            await _until(lambda: late.cooling(target))
            # The probe succeeds in process 1: every board closes.
            boards[1].succeeded(target, 0.01)
            await _until(lambda: not boards[0].cooling(target) and not late.cooling(target))
            # A process ignores its own messages and malformed ones.
            client = redis.Redis.from_url(redis_url)
            await client.publish(CHANNEL, b"not json")
            await client.publish(CHANNEL, b'{"o": "x"}')
            await client.aclose()
            boards[0].failed(target)
            await _until(lambda: late.cooling(target))
            assert boards[0].rows()[0][2] == "open"
            await late_sync.close()
        finally:
            for sync in syncs:
                await sync.close()

    _run(scenario)


def test_an_unreachable_redis_never_touches_the_request_path() -> None:
    async def scenario() -> None:
        board = HealthBoard()
        url = f"redis://127.0.0.1:{free_port()}/0"
        sync = BreakerSync(url, board.apply_open, board.apply_close)
        board.listener = sync
        sync.start()
        target = _target(failures=1)
        started = time.monotonic()
        board.failed(target)  # returns at once: publishing is the background task's job
        assert board.cooling(target)
        await asyncio.sleep(0)
        await sync.close()
        assert time.monotonic() - started < 5  # close does not hang on the dead Redis

    _run(scenario)


def _breaker(port: int, backend: str) -> str | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("sluicegate_target_state{") and f'backend="{backend}"' in line:
            return line.rsplit(" ", 1)[1]
    return None


def test_a_target_tripped_in_one_gateway_is_skipped_by_another(
    redis_url: str, mock: MockUpstream, tmp_path: Path, tag: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: a connect error
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""
server: {{master_key: sk-master-breakers}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/gw-${{GW}}.db"}}
redis: {{url: "{redis_url}"}}
backends:
  - {{name: dead, type: openai, base_url: "{dead}", max_retries: 0,
      cooldown: {{failures: 1, seconds: 120}}}}
  - {{name: live, type: openai, base_url: "{mock.url}/v1", max_retries: 0}}
models:
  - {{name: primary, targets: [{{backend: dead, model: m}}], fallbacks: [backup]}}
  - {{name: backup, targets: [{{backend: live, model: mock-model}}]}}
users:
  - {{name: u-{tag}, api_keys: [sk-u-{tag}], models: ["*"]}}
"""
    )
    ports = [free_port(), free_port()]
    processes = [serve(config, port, tmp_path, {"GW": str(i)}) for i, port in enumerate(ports)]
    try:
        for port in ports:
            wait_for_http(f"http://127.0.0.1:{port}/health", 30)

        def ask(port: int) -> httpx.Response:
            return httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "primary", "messages": [{"role": "user", "content": tag}]},
                headers={"authorization": f"Bearer sk-u-{tag}"},
                timeout=20,
            )

        assert _breaker(ports[1], "dead") is None  # gateway 1 has never used the target
        assert ask(ports[0]).status_code == 200  # dead fails, the fallback answers, it trips
        assert _breaker(ports[0], "dead") == "2.0"
        wait_until(lambda: _breaker(ports[1], "dead") == "2.0", timeout=5)
        assert ask(ports[1]).status_code == 200

        def attempts(port: int) -> list[str] | None:
            rows = httpx.get(
                f"http://127.0.0.1:{port}/admin/analytics/requests?limit=1",
                headers={"authorization": "Bearer sk-master-breakers"},
                timeout=5,
            ).json()["rows"]
            return [a["backend"] for a in rows[0]["attempts"]] if rows else None

        assert wait_until(lambda: attempts(ports[0])) == ["dead", "live"]
        assert wait_until(lambda: attempts(ports[1])) == ["live"]  # never tried the dead one
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
