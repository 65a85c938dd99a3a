"""The cache store contract, and `build_store` picking the memory or Redis implementation.

A store answers `get` on the hot path and takes `put` without making the request wait: the
memory store is a dict operation, the Redis store writes from a background task. A store that
cannot be reached raises `CacheUnavailable` from `get`; the proxy then answers without the
cache (`x-sluicegate-cache: bypass`).
"""

from __future__ import annotations

from typing import Protocol

from ..config.content import CacheConfig
from .entry import Entry


class CacheStore(Protocol):
    async def get(self, key: str) -> Entry | None:
        """The live entry under `key`, or None."""
        ...

    def put(self, key: str, entry: Entry) -> None:
        """Store `entry` for the configured TTL, replacing any entry under `key`."""
        ...

    async def close(self) -> None: ...


def build_store(config: CacheConfig, redis_url: str | None) -> CacheStore:
    if config.mode == "redis":
        if not redis_url:
            raise ValueError("cache.mode redis needs redis.url")
        from .redis import RedisCacheStore

        return RedisCacheStore(redis_url, config.ttl_seconds)
    from .memory import MemoryCacheStore

    return MemoryCacheStore(config.max_entries, config.ttl_seconds)
