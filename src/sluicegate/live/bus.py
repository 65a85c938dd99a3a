"""LiveBus: this process's live-log events in a bounded ring, their cursors, and who is reading.

    request ends ─► publish(completion): two ring slots, a counter += 2 (no I/O, no JSON,
                    no wake-up)
    ticker (every FLUSH_SECONDS while anyone reads) ─► events since last tick? one
                    asyncio.Event set: every subscriber wakes once, takes all it missed as one
                    byte string (frames built once per event, shared by all), sends it once
               ─► a subscriber stuck in a send (its client is not reading) while more than
                    its `limit` events piled up: overflow(): detached, its writer cancelled

Sequence numbers count events from 1 in this process; a cursor is `<epoch>-<seq>`, the epoch a
random word fixed for the bus's life, so a cursor from another process or an earlier run is
recognised as not ours (the caller resets) instead of being misread. The ring keeps the last
`capacity` events; resuming from a cursor older than that is a reset as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import replace

from ..errors import InvalidRequest
from ..record import Completion
from .events import AUDIT, EVENT_NAMES, USAGE, data_of, frame

FLUSH_SECONDS = 0.05  # delivery delay bound; also how often each subscriber may wake
_CURSOR = re.compile(r"([0-9a-f]{8})-([0-9]{1,18})")


class _Entry:
    """One event: its own request's Completion (data made on first use) or another process's
    data; the frame is cached, so N subscribers cost one serialization."""

    __slots__ = ("completion", "data", "frame", "kind", "seq")

    def __init__(self, seq: int, kind: str, completion: Completion | None, data: bytes | None):
        self.seq = seq
        self.kind = kind
        self.completion = completion
        self.data = data
        self.frame: bytes | None = None


class Subscription:
    """One reader's position and bound; `writer` is the task sending to it."""

    __slots__ = ("cursor", "kinds", "limit", "overflowed", "sending", "writer")

    def __init__(self, cursor: int, kinds: frozenset[str], limit: int) -> None:
        self.cursor = cursor  # the last event taken
        self.kinds = kinds
        self.limit = limit
        self.overflowed = False
        self.sending = False  # True while awaiting a send: the client may not be reading
        self.writer: asyncio.Task[None] | None = None

    def overflow(self) -> None:
        self.overflowed = True
        if self.sending and self.writer is not None:
            self.writer.cancel()


class LiveBus:
    def __init__(self, capacity: int = 5000, epoch: str | None = None) -> None:
        self.capacity = capacity
        self.epoch = epoch or os.urandom(4).hex()
        self.seq = 0  # the newest event's number
        self.closed = False
        self._ring: list[_Entry | None] = [None] * capacity
        self._subs: set[Subscription] = set()
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        # Subscribers woken by the same tick mostly ask for the same range with the same
        # types: the joined bytes are made once per (from, to, types), not once per subscriber.
        self._batches: dict[tuple[int, int, frozenset[str]], bytes] = {}

    # Publishing (the request's task: O(1)) -----------------------------------------------

    def publish(self, completion: Completion) -> None:
        if completion.request_body is not None or completion.response_body is not None:
            # The ring must not keep detail-logged bodies alive; events never carry them.
            completion = replace(completion, request_body=None, response_body=None)
        ring, capacity, seq = self._ring, self.capacity, self.seq
        ring[(seq + 1) % capacity] = _Entry(seq + 1, AUDIT, completion, None)
        ring[(seq + 2) % capacity] = _Entry(seq + 2, USAGE, completion, None)
        self.seq = seq + 2

    def add_foreign(self, kind: str, data: bytes) -> None:
        """An event another process published (already serialized), from the Redis relay."""
        seq = self.seq + 1
        self._ring[seq % self.capacity] = _Entry(seq, kind, None, data)
        self.seq = seq

    # Reading ----------------------------------------------------------------------------

    def cursor(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def resolve(self, cursor: str) -> int | None:
        """The sequence number to resume after; None when that point is gone (another
        process's or run's cursor, or older than the ring): the caller resets. A malformed
        cursor, or one past the newest event, was never issued: 400."""
        match = _CURSOR.fullmatch(cursor)
        if match is None:
            raise InvalidRequest(
                "cursor: expected an event id of this stream ('<epoch>-<number>')",
                param="cursor",
            )
        if match[1] != self.epoch:
            return None
        seq = int(match[2])
        if seq > self.seq:
            raise InvalidRequest("cursor: no event has this id yet", param="cursor")
        return seq if seq >= self.seq - self.capacity else None

    def data(self, entry: _Entry) -> bytes:
        if entry.data is None:
            assert entry.completion is not None
            entry.data = data_of(entry.kind, entry.completion)
        return entry.data

    def take(self, sub: Subscription) -> bytes | None:
        """Every event after `sub.cursor` of its kinds, as one byte string, and the cursor
        moved to the newest; None when `sub` was overflowed or the ring has overwritten
        events it had not taken (reset it)."""
        newest = self.seq
        if sub.overflowed or newest - sub.cursor > self.capacity:
            return None
        if newest == sub.cursor:
            return b""
        key = (sub.cursor, newest, sub.kinds)
        batch = self._batches.get(key)
        if batch is None:
            if self._batches and next(iter(self._batches))[1] != newest:
                self._batches.clear()  # only this tick's batches can be asked for again
            batch = self._batches[key] = self._join(sub.cursor, newest, sub.kinds)
        sub.cursor = newest
        return batch

    def _join(self, after: int, newest: int, kinds: frozenset[str]) -> bytes:
        ring, capacity = self._ring, self.capacity
        frames = []
        for seq in range(after + 1, newest + 1):
            entry = ring[seq % capacity]
            assert entry is not None and entry.seq == seq
            if entry.kind not in kinds:
                continue
            if entry.frame is None:
                entry.frame = frame(EVENT_NAMES[entry.kind], self.cursor(seq), self.data(entry))
            frames.append(entry.frame)
        return b"".join(frames)

    def local_after(self, seq: int) -> tuple[int, list[tuple[str, bytes]]]:
        """This process's own events after `seq` still in the ring, as (kind, data), and the
        newest sequence number: what the Redis relay has yet to send."""
        newest = self.seq
        items = []
        for number in range(max(seq, newest - self.capacity) + 1, newest + 1):
            entry = self._ring[number % self.capacity]
            if entry is not None and entry.completion is not None:
                items.append((entry.kind, self.data(entry)))
        return newest, items

    # Subscribers --------------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def attach(self, sub: Subscription) -> None:
        self._subs.add(sub)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="live-tick")

    def detach(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def wait(self, deadline: float) -> None:
        """Until the next tick with news, or close, or the loop's clock reaching `deadline`."""
        if self.closed:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._changed.wait()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _tick(self) -> None:
        seen = self.seq
        while self._subs and not self.closed:
            await asyncio.sleep(FLUSH_SECONDS)
            newest = self.seq
            if newest == seen:
                continue
            seen = newest
            # Only a writer stuck in a send is behind: one that is not takes everything it
            # missed when this tick wakes it, however many events one tick brought.
            for sub in [s for s in self._subs if s.sending and newest - s.cursor > s.limit]:
                self._subs.discard(sub)
                sub.overflow()
            self._wake()

    def close(self) -> None:
        """End every stream (the gateway drains): each sends what it has left and ends."""
        self.closed = True
        self._wake()
