"""Client-disconnect detection: the request's task is cancelled when its client hangs up.

uvicorn's `send()` returns silently once the client is gone, so a relay that only sends would
keep the upstream (and its token meter) running. Under our server protocol
(`server/protocol.py`) each request's scope carries a `HangUp` that the protocol fires from
`connection_lost`: no task, no pending `receive()`. Under any other ASGI server a
`DisconnectWatcher` task awaits `receive()`, which yields `http.disconnect` when the
connection drops. Either cancels the handler, whose `finally` blocks close the upstream
connection. `stop()` must run before the response's final send, since uvicorn also reports a
*finished* response as `http.disconnect`.

The watcher task costs a task, a cancelled `receive()` and the reference cycles a cancelled
frame leaves behind for the garbage collector (about 20 objects a request, collected only by
the costly older generations); the hang-up signal is one small object (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..types import Receive

# The scope key under which our server protocol puts a request's HangUp.
HANGUP_KEY = "sluicegate.hangup"


class Watch(Protocol):
    def stop(self) -> None: ...

    def absorb(self) -> bool: ...


class HangUp:
    """Fired by the server protocol when the connection of a request still answering is lost;
    cancels the task armed on it (at once if the client had already gone)."""

    __slots__ = ("_target", "fired", "lost")

    def __init__(self) -> None:
        self._target: asyncio.Task[object] | None = None
        self.lost = False
        self.fired = False

    def fire(self) -> None:
        """The connection is gone (called by the protocol, on the event loop)."""
        self.lost = True
        target = self._target
        if target is not None and not self.fired:
            self.fired = True
            target.cancel()

    def arm(self) -> HangUp:
        """Cancel the current task when the client hangs up from now on."""
        self._target = asyncio.current_task()
        if self.lost:
            self.fire()
        return self

    def stop(self) -> None:
        self._target = None

    def absorb(self) -> bool:
        """After a CancelledError: True if it was ours (the client left), undoing the cancel."""
        if self.fired and (task := asyncio.current_task()) is not None:
            task.uncancel()
            return True
        return False


class DisconnectWatcher:
    """The same for servers without our protocol: a task awaiting `receive()`."""

    __slots__ = ("_receive", "_target", "_task", "fired")

    def __init__(self, receive: Receive) -> None:
        self.fired = False
        self._receive = receive
        self._target = asyncio.current_task()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.fired = True
                if self._target is not None:
                    self._target.cancel()
                return

    def stop(self) -> None:
        if not self._task.done():
            self._task.cancel()

    def absorb(self) -> bool:
        """After a CancelledError: True if it was ours (the client left), undoing the cancel."""
        if self.fired and self._target is not None:
            self._target.uncancel()
            return True
        return False


def watch(hangup: HangUp | None, receive: Receive) -> Watch:
    """Start watching for the client's hang-up, by the protocol's signal when there is one."""
    return hangup.arm() if hangup is not None else DisconnectWatcher(receive)
