"""Circuit-breaker transitions shared through Redis, so a target that trips in one process is
skipped by every worker and instance (decision 28).

    process A: board.failed ─► opens ─► opened() ─► outbox ─► publisher task ─┐
                                         (no I/O on the request path)         │ SET key PX
                                                                              │ PUBLISH
    process B: subscriber task ◄── message ◄──────────── Redis channel ◄──────┘
               └─► apply_open(backend, model, seconds) on B's board

Each process keeps its own breaker (decision 11) as the fast path: requests only read local
memory. A transition is published as the seconds it lasts (not a wall-clock time, so clock
skew between instances does not matter); the open breakers are also kept as keys that expire
with them, read when a process (re)subscribes, so one started later learns what is open.
Redis errors are mapped here: publishing and subscribing retry every second, and while Redis
is away every process still has its own breakers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from random import getrandbits
from typing import Any

import orjson

log = logging.getLogger("sluicegate.cluster")

CHANNEL = "sluicegate:breakers"
KEY_PREFIX = "sluicegate:breaker:"
RETRY_SECONDS = 1.0

ApplyOpen = Callable[[str, str, float], None]
ApplyClose = Callable[[str, str], None]


def _key(backend: str, model: str) -> bytes:
    return KEY_PREFIX.encode() + orjson.dumps([backend, model])


class BreakerSync:
    """A `routing.health.BreakerListener` that publishes, plus the task that applies the
    other processes' transitions with `apply_open` / `apply_close`."""

    def __init__(self, url: str, apply_open: ApplyOpen, apply_close: ApplyClose) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2.0)
        self._apply_open = apply_open
        self._apply_close = apply_close
        self.origin = f"{os.getpid()}-{getrandbits(32):08x}"
        # Latest transition per target still to publish: (backend, model) -> seconds or None.
        self._outbox: dict[tuple[str, str], float | None] = {}
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    # BreakerListener: called on the request path, so only remember and wake the publisher.

    def opened(self, backend: str, model: str, seconds: float) -> None:
        self._post((backend, model), seconds)

    def closed(self, backend: str, model: str) -> None:
        self._post((backend, model), None)

    def _post(self, target: tuple[str, str], seconds: float | None) -> None:
        self._outbox[target] = seconds
        if self._wake is not None:
            self._wake.set()

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._wake = asyncio.Event()
        if self._outbox:
            self._wake.set()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish_forever(), name="breakers-publish"),
            loop.create_task(self._subscribe_forever(), name="breakers-subscribe"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._publish(self._take())  # a last transition, if Redis answers at once
        await self._redis.aclose()

    # Publishing ---------------------------------------------------------------------------

    def _take(self) -> dict[tuple[str, str], float | None]:
        batch, self._outbox = self._outbox, {}
        return batch

    async def _publish_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = self._take()
            try:
                await self._publish(batch)
            except Exception as exc:
                log.warning("could not share breaker changes through redis: %s", exc)
                for target, seconds in batch.items():
                    self._outbox.setdefault(target, seconds)  # newer changes win
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _publish(self, batch: dict[tuple[str, str], float | None]) -> None:
        if not batch:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for (backend, model), seconds in batch.items():
                key = _key(backend, model)
                if seconds is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, self.origin, px=max(1, int(seconds * 1000)))
                message = {"o": self.origin, "b": backend, "m": model, "s": seconds}
                pipe.publish(CHANNEL, orjson.dumps(message))
            await pipe.execute()

    # Subscribing --------------------------------------------------------------------------

    async def _subscribe_forever(self) -> None:
        while True:
            try:
                await self._subscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("breaker updates from redis interrupted: %s", exc)
            self.subscribed.clear()
            await asyncio.sleep(RETRY_SECONDS)

    async def _subscribe(self) -> None:
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            await self._load_open()  # after subscribing: nothing falls between the two
            self.subscribed.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._receive(message["data"])

    async def _load_open(self) -> None:
        async for key in self._redis.scan_iter(match=KEY_PREFIX + "*", count=200):
            millis = await self._redis.pttl(key)
            target = orjson.loads(bytes(key)[len(KEY_PREFIX) :])
            if millis > 0 and isinstance(target, list) and len(target) == 2:
                self._apply_open(str(target[0]), str(target[1]), millis / 1000)

    def _receive(self, data: Any) -> None:
        try:
            message = orjson.loads(data)
            if message["o"] == self.origin:
                return
            backend, model, seconds = str(message["b"]), str(message["m"]), message["s"]
            if seconds is None:
                self._apply_close(backend, model)
            else:
                self._apply_open(backend, model, float(seconds))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed breaker message on %s", CHANNEL)
