"""MemoryCacheStore: one process's entries in a bounded LRU with a TTL.

An OrderedDict kept in use order: a hit moves its key to the end, a put past `max_entries`
drops the least recently used. Expired entries are dropped when met (a get finds them), so
nothing runs in the background; the bound holds whatever the TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from .entry import Entry


class MemoryCacheStore:
    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self.max_entries = max_entries
        self.ttl = ttl_seconds
        self._entries: OrderedDict[str, tuple[float, Entry]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Entry | None:
        return self.get_now(key)

    def get_now(self, key: str) -> Entry | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, entry = found
        if time.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        entries = self._entries
        entries[key] = (time.monotonic() + self.ttl, entry)
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()
