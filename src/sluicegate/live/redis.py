"""RedisRelay: live-log events of every worker and instance reach every subscriber, through one
Redis pub/sub channel, off the request path.

    this process's ring ─► flusher (every FLUSH_SECONDS): own events since the last flush,
                           ONE `PUBLISH sluicegate:live <origin>\\n<kind><data>\\n...`
    Redis channel ──────► reader: messages of other origins ─► bus.add_foreign (each event
                          once; our own were in the ring from the start)

Own events reach local subscribers at once, not via Redis, so a Redis outage changes nothing
for them or for requests: the flusher logs once, keeps its position and retries; the ring
bounds what waits (events overwritten meanwhile are not relayed: the request log has them).
Messages published while a reader is disconnected are lost to it: pub/sub keeps no history,
and a live tail needs none. The payload is the events' JSON joined by newlines (orjson never
writes one), so a batch is built and split without a JSON round trip.

Redis errors are mapped here, at the boundary, to `LiveRelayUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from ..errors import LiveRelayUnavailable
from .bus import FLUSH_SECONDS, LiveBus
from .events import AUDIT, USAGE

log = logging.getLogger("sluicegate.live")

CHANNEL = "sluicegate:live"
RETRY_SECONDS = 1.0
_KIND_BYTE = {AUDIT: b"a", USAGE: b"u"}
_KIND_OF = {ord("a"): AUDIT, ord("u"): USAGE}


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    import redis.exceptions

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise LiveRelayUnavailable(f"redis unavailable: {type(exc).__name__}") from exc


def encode_batch(origin: bytes, items: list[tuple[str, bytes]]) -> bytes:
    return b"\n".join([origin, *(_KIND_BYTE[kind] + data for kind, data in items)])


def decode_batch(message: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    origin, *lines = message.split(b"\n")
    return origin, [(_KIND_OF[line[0]], line[1:]) for line in lines if line and line[0] in _KIND_OF]


class RedisRelay:
    def __init__(self, bus: LiveBus, url: str) -> None:
        import redis.asyncio as redis

        self.bus = bus
        self.origin = os.urandom(8).hex().encode()  # tells our own messages apart
        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._tasks: list[asyncio.Task[None]] = []
        self._down = False  # an outage is logged once, and its end once
        self.relayed = 0  # events published to Redis (tests, metrics)
        self.received = 0  # events of other processes added to the ring

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._flush_loop(), name="live-relay-flush"),
            loop.create_task(self._read_loop(), name="live-relay-read"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    def _outage(self, exc: Exception, what: str) -> None:
        if not self._down:
            log.warning("live logs: %s failed (%s); local events unaffected, retrying", what, exc)
        self._down = True

    def _recovered(self) -> None:
        if self._down:
            log.warning("live logs: redis reachable again")
        self._down = False

    async def _flush_loop(self) -> None:
        flushed = self.bus.seq
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            newest, items = self.bus.local_after(flushed)
            if not items:
                flushed = newest
                continue
            try:
                with _redis_errors():
                    await self._redis.publish(CHANNEL, encode_batch(self.origin, items))
            except LiveRelayUnavailable as exc:
                self._outage(exc, "publishing")
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._recovered()
            self.relayed += len(items)
            flushed = newest

    async def _read_loop(self) -> None:
        while True:
            try:
                with _redis_errors():
                    await self._read()
            except LiveRelayUnavailable as exc:
                self._outage(exc, "subscribing")
                await asyncio.sleep(RETRY_SECONDS)

    async def _read(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            while True:
                message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                origin, items = decode_batch(message["data"])
                if origin == self.origin:
                    continue
                for kind, data in items:
                    self.bus.add_foreign(kind, data)
                self.received += len(items)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
