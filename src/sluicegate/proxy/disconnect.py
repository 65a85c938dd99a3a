"""Client-disconnect detection: a watcher task that cancels the request's task on hang-up.

uvicorn's `send()` returns silently once the client is gone, so a relay that only sends would
keep the upstream (and its token meter) running. The watcher awaits `receive()`, which yields
`http.disconnect` when the connection drops, and cancels the handler; the handler's `finally`
blocks close the upstream connection. `stop()` must run before the response's final send,
since uvicorn also reports a *finished* response as `http.disconnect`.
"""

from __future__ import annotations

import asyncio

from ..types import Receive


class DisconnectWatcher:
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
