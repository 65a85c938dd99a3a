"""Inflight: the inference requests this process is running, as one small registry that
admits (or refuses) new ones, ends the rest when a drain runs out, and cuts clients that
stopped reading.

    request ─► admit ──► over max_inflight, or draining? ─► 503 overloaded
                 │
                 ▼ registered (task → context) until `leave`
    drain deadline ─► end_all(): each task cancelled with `ended_by = GatewayShutdown`
    watchdog tick ──► a send blocked longer than the target's idle timeout?
                      ─► that task cancelled with `ended_by = ClientStalled`

The handler tells these cancellations from a client disconnect by `ctx.ended_by`. A relay
marks `ctx.sending_since` around each send, so the watchdog costs the hot path two
attribute writes per send and no timer.
"""

from __future__ import annotations

import asyncio

from ..errors import ClientStalled, GatewayError, GatewayShutdown, Overloaded
from .context import RequestContext

WATCH_EVERY_SECONDS = 1.0


class Inflight:
    __slots__ = ("_running", "draining", "limit")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.draining = False
        self._running: dict[asyncio.Task[None], RequestContext] = {}

    def __len__(self) -> int:
        return len(self._running)

    def admit(self, ctx: RequestContext) -> None:
        """Register the current task's request, or raise `Overloaded`."""
        if self.draining:
            raise Overloaded("The gateway is shutting down; retry on another instance.")
        if self.limit is not None and len(self._running) >= self.limit:
            raise Overloaded(
                f"The gateway is at its limit of {self.limit} requests in flight; retry shortly."
            )
        task = asyncio.current_task()
        if task is not None:
            self._running[task] = ctx

    def leave(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.pop(task, None)

    def end_all(self) -> int:
        """The drain is over: end every request still running. Returns how many."""
        for task, ctx in list(self._running.items()):
            self._end(task, ctx, GatewayShutdown("The gateway shut down before the answer ended."))
        return len(self._running)

    def cut_stalled(self, now: float) -> int:
        """End the streams whose client has not taken a send for its target's idle timeout."""
        cut = 0
        for task, ctx in list(self._running.items()):
            since = ctx.sending_since
            if not since or ctx.ended_by is not None or ctx.target is None:
                continue
            idle = ctx.target.provider.timeouts.idle
            if now - since >= idle:
                error = ClientStalled(f"The client stopped reading for {idle:g}s.")
                self._end(task, ctx, error)
                cut += 1
        return cut

    async def watch(self) -> None:
        """Run `cut_stalled` every second, for the life of the process."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_EVERY_SECONDS)
            self.cut_stalled(loop.time())

    @staticmethod
    def _end(task: asyncio.Task[None], ctx: RequestContext, error: GatewayError) -> None:
        if ctx.ended_by is None and not task.done():
            ctx.ended_by = error
            task.cancel()
