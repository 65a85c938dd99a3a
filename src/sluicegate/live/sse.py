"""LiveStream: one live-log subscriber's SSE response: reset or replay, coalesced sends,
heartbeats, and the reset-and-disconnect of a subscriber that cannot keep up.

    200 ─► first: `reset` (no cursor, or one that is gone) or the events after the cursor
        ─► loop: wait for a tick ─► everything new of its types as ONE send ─► heartbeat due?
              │ more than `limit` events behind (its sends block: it is not reading)
              ▼
           final `event: reset` (reason too_slow), end of response, connection closed

A writer task does the sending and the handler awaits `receive()` for the hang-up. When the
bus finds the writer stuck in a send while it fell behind, it cancels it; the handler then
offers the final reset for RESET_GRACE_SECONDS (a slow reader gets it) and otherwise returns
with the response unfinished, which makes the server close the connection.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..types import Message, Receive, Scope, Send
from .bus import LiveBus, Subscription
from .events import control_frame

RESET_GRACE_SECONDS = 10.0
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) must not hold events back
    (b"connection", b"close"),  # a stream that ends (reset, drain) takes its connection along
]


class LiveStream:
    """The ASGI response of one subscriber; `after` is the resumed cursor's sequence number,
    None to start with a reset (`reason` says why: start, or cursor_expired)."""

    def __init__(
        self,
        bus: LiveBus,
        kinds: frozenset[str],
        after: int | None,
        *,
        heartbeat: float,
        limit: int,
        reason: str = "start",
    ) -> None:
        self.bus = bus
        self.heartbeat = heartbeat
        self.reason = reason
        self.resumed = after is not None
        self.sub = Subscription(bus.seq if after is None else after, kinds, limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = self.sub
        writer = asyncio.get_running_loop().create_task(self._write(send))
        sub.writer = writer
        watcher = asyncio.get_running_loop().create_task(_until_disconnect(receive))
        hung_up = False
        try:
            await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            hung_up = watcher.done()
        finally:
            self.bus.detach(sub)
            for task in (writer, watcher):
                task.cancel()
            for task in (writer, watcher):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if sub.overflowed and writer.cancelled() and not hung_up:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESET_GRACE_SECONDS):
                    await send(_body(self._reset("too_slow"), more=False))

    def _reset(self, reason: str) -> bytes:
        """A `reset` whose cursor is where the stream now stands: after a too_slow reset the
        subscriber lost every event it had not yet been sent."""
        if reason == "too_slow":
            self.sub.cursor = self.bus.seq
        return control_frame(b"reset", self.bus.cursor(self.sub.cursor), reason=reason)

    async def _write(self, send: Send) -> None:
        bus, sub = self.bus, self.sub
        loop = asyncio.get_running_loop()
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        body = (bus.take(sub) or b"") if self.resumed else self._reset(self.reason)
        bus.attach(sub)
        next_beat = loop.time() + self.heartbeat
        while True:
            if bus.closed:
                await send(_body(body + (bus.take(sub) or b""), more=False))
                return
            now = loop.time()
            if now >= next_beat:
                body += control_frame(b"heartbeat", bus.cursor(sub.cursor))
                next_beat = now + self.heartbeat
            if body:
                sub.sending = True
                await send(_body(body))
                sub.sending = False
            await bus.wait(next_beat)
            taken = bus.take(sub)
            if taken is None:
                await send(_body(self._reset("too_slow"), more=False))
                return
            body = taken


def _body(body: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": more}


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
