"""RedisCacheStore: entries shared by every worker and instance, expiring by `SET ... EX`.

Redis errors are mapped here to `CacheUnavailable`. After one, the store stays away from Redis
for RETRY_SECONDS (every `get` is an instant miss) so that an outage costs requests nothing
but the cache, not a connect timeout each; writes are dropped meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from ..errors import CacheUnavailable
from .entry import Entry, unpack

log = logging.getLogger("sluicegate.cache")

PREFIX = "sgc:"
RETRY_SECONDS = 5.0
POOL_SIZE = 32
TIMEOUT_SECONDS = 1.0


class RedisCacheStore:
    def __init__(self, url: str, ttl_seconds: float) -> None:
        import redis.asyncio as redis

        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._ttl = max(1, round(ttl_seconds))
        self._down_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import redis.exceptions

        try:
            yield
        except (redis.exceptions.RedisError, OSError) as exc:
            if time.monotonic() >= self._down_until:
                log.warning(
                    "cache redis unavailable, answering without the cache for %gs: %s",
                    RETRY_SECONDS,
                    type(exc).__name__,
                )
            self._down_until = time.monotonic() + RETRY_SECONDS
            raise CacheUnavailable(f"redis unavailable: {type(exc).__name__}") from exc

    async def get(self, key: str) -> Entry | None:
        if time.monotonic() < self._down_until:
            raise CacheUnavailable("redis unavailable (retrying later)")
        with self._errors():
            data: Any = await self._redis.get(PREFIX + key)
        return unpack(data) if data else None

    def put(self, key: str, entry: Entry) -> None:
        if time.monotonic() < self._down_until:
            return
        task = asyncio.get_running_loop().create_task(self._set(key, entry.pack()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set(self, key: str, data: bytes) -> None:
        with contextlib.suppress(CacheUnavailable), self._errors():
            await self._redis.set(PREFIX + key, data, ex=self._ttl)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose(close_connection_pool=True)
