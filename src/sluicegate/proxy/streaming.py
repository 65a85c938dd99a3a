"""The SSE relay: from a peeked upstream stream to the client, event by event, never buffered.

    commit 200 ─► first events ─► read ─┬─ events ───────► forward at once ─┐
                                        ├─ silence ≥ keepalive ► ": keep-alive"
                                        ├─ clean end ─────► end_stream, close
                                        │                  ([DONE], message_stop)
                                        └─ broken / idle / total ─┬─► one error event, close
                                        ◄───────────────────────────────────┘ │
                                        ◄── resume (resume.py): continuation ─┘
                                            opened elsewhere, keep-alives meanwhile

An output guardrail that blocks (`guard.py`, `ContentFiltered`) ends the stream with the same
one error event and is never resumed.

One timer per stream covers the three deadlines (idle, total, keep-alive), moved lazily
(`_Alarm`); when it goes off, the clock says which. A client disconnect arrives as
cancellation of this task (see `disconnect.py`); `finally` closes the upstream connection so
the upstream stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from ..errors import (
    ContentFiltered,
    GatewayError,
    StreamBroken,
    StreamIdleTimeout,
    StreamTotalTimeout,
)
from ..providers.base import Chunk, UpstreamStream
from ..providers.sse import KEEPALIVE_FRAME
from ..types import Headers, Send
from .context import RequestContext
from .endpoint import Endpoint
from .engine import OpenedStream
from .headers import SSE_HEADERS, overhead_header
from .resume import Resumer


async def relay(
    ctx: RequestContext,
    opened: OpenedStream,
    send: Send,
    endpoint: Endpoint,
    keepalive: float,
    before_end: Callable[[], None],
    resumer: Resumer | None = None,
) -> None:
    """Stream `opened` to the client in `endpoint`'s wire format (its chunk encoding, clean
    end and error event); `before_end` runs just before the final send. With a `resumer`
    (SPEC 4.9), a break may be continued on another target in the same client stream."""
    encode = endpoint.encode_chunks
    loop = asyncio.get_running_loop()

    async def emit(body: bytes, more: bool = True) -> None:
        # `sending_since` lets the Inflight watchdog find a client that stopped reading:
        # send() blocks while the socket's buffer is full, which also stops our upstream reads,
        # so backpressure reaches the upstream and nothing piles up in memory.
        ctx.sending_since = loop.time()
        await send({"type": "http.response.body", "body": body, "more_body": more})
        ctx.sending_since = 0.0

    def forward(batch: list[Chunk]) -> bytes:
        if resumer is not None:
            batch = resumer.feed(batch)
            if not batch:
                return b""
        return encode(ctx, batch)

    try:
        ctx.ttft = opened.first_at - ctx.started
        await _commit(ctx, send)
        sent_events = False
        while True:  # one pass per upstream stream: more than one only after a resume
            try:
                sent_events = await _pump(opened, forward, emit, keepalive, loop) or sent_events
                break
            except StreamBroken as exc:
                if resumer is None:
                    raise
                opened = await _switch(resumer, exc, opened, emit, keepalive)
                sent_events = True
        if not sent_events:  # the upstream ended cleanly without a single event
            before_end()
            await emit(b"", False)
            ctx.stream_done = True
            return
        if resumer is not None and (rest := resumer.flush()):
            payload = encode(ctx, rest)
            if payload:
                await emit(payload)
        end = endpoint.end_stream(ctx)
        before_end()
        await emit(end, False)
        ctx.stream_done = True
    except (StreamBroken, ContentFiltered) as exc:  # an output guardrail blocked (guard.py)
        ctx.fail(exc)
        frame = end_frame(ctx, endpoint, exc)
        before_end()
        await emit(frame, False)
    finally:
        await opened.stream.aclose()


async def _pump(
    opened: OpenedStream,
    forward: Callable[[list[Chunk]], bytes],
    emit: Callable[[bytes], Awaitable[None]],
    keepalive: float,
    loop: asyncio.AbstractEventLoop,
) -> bool:
    """Relay one upstream stream to its clean end: True if it had events, False if none."""
    if opened.first is None:
        return False
    stream = opened.stream
    timeouts = opened.target.provider.timeouts
    # perf_counter and loop.time() are both monotonic; convert the attempt start once.
    total_deadline = loop.time() + timeouts.total - (time.perf_counter() - opened.first_at)
    payload = forward(opened.first)
    if payload:
        await emit(payload)
    last_event = last_sent = loop.time()
    alarm = _Alarm(loop)
    try:
        while True:
            alarm.wake = min(last_event + timeouts.idle, total_deadline, last_sent + keepalive)
            batch = await alarm.read(stream)
            if batch is _RANG:
                now = loop.time()
                if now >= total_deadline:
                    raise StreamTotalTimeout(
                        f"Backend '{opened.target.backend}' exceeded its total timeout "
                        f"({timeouts.total:g}s) mid-stream."
                    )
                if now >= last_event + timeouts.idle:
                    raise StreamIdleTimeout(
                        f"Backend '{opened.target.backend}' sent nothing for "
                        f"{timeouts.idle:g}s mid-stream."
                    )
                await emit(KEEPALIVE_FRAME)
                last_sent = now
                continue
            if batch is None:
                return True
            payload = forward(batch)  # type: ignore[arg-type]
            last_event = loop.time()
            if payload:
                await emit(payload)
                last_sent = last_event
    finally:
        alarm.cancel()


_RANG = object()  # what `_Alarm.read` returns when the wake time came first


class _Alarm:
    """One timer per stream for its three deadlines (idle, total, keep-alive), moved lazily.

    The wake time only moves later as events arrive, so the timer is not re-armed per read
    (`asyncio.timeout_at` per read made and cancelled a timer for every event): when it goes
    off early it re-arms itself at the current `wake`, about once per keep-alive interval. It
    cancels the task only while it waits in `read`; a cancellation from anyone else (the
    client hanging up) is passed on, as `asyncio.timeout` does.
    """

    __slots__ = ("_handle", "_loop", "_rang", "_reading", "_task", "wake")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self.wake = 0.0  # set before each read
        self._reading = False
        self._rang = False
        self._handle: asyncio.TimerHandle | None = None  # armed by the first read

    def _ring(self) -> None:
        self._handle = None
        if not self._reading:
            return  # the next read arms it again, or finds the wake time passed
        if self._loop.time() < self.wake:
            self._handle = self._loop.call_at(self.wake, self._ring)
            return
        self._rang = True
        self._task.cancel()

    async def read(self, stream: UpstreamStream) -> list[Chunk] | object | None:
        """The stream's next chunks (None at its clean end), or `_RANG` if `wake` came first."""
        if self._loop.time() >= self.wake:
            return _RANG
        if self._handle is None:
            self._handle = self._loop.call_at(self.wake, self._ring)
        task = self._task
        cancelling = task.cancelling()
        self._reading = True
        try:
            return await stream.read()
        except asyncio.CancelledError:
            if self._rang and task.uncancel() <= cancelling:
                return _RANG
            raise
        finally:
            self._reading = False
            self._rang = False

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def _switch(
    resumer: Resumer,
    error: StreamBroken,
    broken: OpenedStream,
    emit: Callable[[bytes], Awaitable[None]],
    keepalive: float,
) -> OpenedStream:
    """The continuation of a broken stream, with keep-alives to the client while it opens;
    cancelled with the request (client gone), which closes the new upstream too."""
    task = asyncio.ensure_future(resumer.resume(error, broken))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=keepalive)
            if done:
                return task.result()
            await emit(KEEPALIVE_FRAME)
    except BaseException:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.cancelled() and task.exception() is None:
            # Opened just as the request ended: nobody will read it.
            await task.result().stream.aclose()
        raise


def end_frame(ctx: RequestContext, endpoint: Endpoint, error: GatewayError) -> bytes:
    """The one error event that ends a broken stream (SPEC 4.4, or 4.8 when a drain ran out),
    noted in the detail capture."""
    frame = endpoint.error_frame(ctx, error)
    if ctx.capture is not None:
        ctx.capture.add_frame(frame)
    return frame


async def _commit(ctx: RequestContext, send: Send) -> None:
    headers: Headers = [
        *SSE_HEADERS,
        (b"x-request-id", ctx.request_id.encode()),
        overhead_header(ctx.mark_overhead()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    ctx.response_started = True
    ctx.status = 200
