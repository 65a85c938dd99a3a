"""The live-log hook: every Completion goes into this process's LiveBus as it is published, and
with `redis.url` a relay carries the events to and from every other worker and instance.

Publishing is two ring-slot stores (see `live.bus`): no JSON, no I/O, no wake-up on the
request path, whether or not anyone is watching. The events come from the Completion itself,
never from the database, so they keep flowing while it is down.
"""

from __future__ import annotations

from ..live.bus import LiveBus
from ..live.redis import RedisRelay
from ..record import Completion
from .base import Hook


class LiveHook(Hook):
    def __init__(self, bus: LiveBus, redis_url: str | None = None) -> None:
        self.bus = bus
        self.relay = RedisRelay(bus, redis_url) if redis_url else None
        self._publish = bus.publish

    def after(self, completion: Completion) -> None:
        self._publish(completion)

    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start()

    async def close(self) -> None:
        self.bus.close()
        if self.relay is not None:
            await self.relay.close()
