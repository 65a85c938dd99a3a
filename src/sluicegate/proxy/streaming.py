"""The SSE relay: from a peeked upstream stream to the client, event by event, never buffered.

    commit 200 ─► first events ─► read ─┬─ events ───────► forward at once ─┐
                                        ├─ silence ≥ keepalive ► ": keep-alive"
                                        ├─ clean end ─────► end_stream, close
                                        │                  ([DONE], message_stop)
                                        └─ broken / idle / total / guardrail ─► error event, close
                                        ◄───────────────────────────────────┘

One timer per read covers the three deadlines (idle, total, keep-alive); when it fires, the
clock says which. A client disconnect arrives as cancellation of this task (see
`disconnect.py`); `finally` closes the upstream connection so the upstream stops at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..errors import (
    ContentFiltered,
    GatewayError,
    StreamBroken,
    StreamIdleTimeout,
    StreamTotalTimeout,
)
from ..providers.sse import KEEPALIVE_FRAME
from ..types import Headers, Send
from .context import RequestContext
from .endpoint import Endpoint
from .engine import OpenedStream
from .headers import SSE_HEADERS, overhead_header


async def relay(
    ctx: RequestContext,
    opened: OpenedStream,
    send: Send,
    endpoint: Endpoint,
    keepalive: float,
    before_end: Callable[[], None],
) -> None:
    """Stream `opened` to the client in `endpoint`'s wire format (its chunk encoding, clean
    end and error event); `before_end` runs just before the final send."""
    encode = endpoint.encode_chunks
    stream = opened.stream
    timeouts = opened.target.provider.timeouts
    loop = asyncio.get_running_loop()
    # perf_counter and loop.time() are both monotonic; convert the attempt start once.
    total_deadline = loop.time() + timeouts.total - (time.perf_counter() - opened.first_at)

    async def emit(body: bytes, more: bool = True) -> None:
        # `sending_since` lets the Inflight watchdog find a client that stopped reading:
        # send() blocks while the socket's buffer is full, which also stops our upstream reads,
        # so backpressure reaches the upstream and nothing piles up in memory.
        ctx.sending_since = loop.time()
        await send({"type": "http.response.body", "body": body, "more_body": more})
        ctx.sending_since = 0.0

    try:
        ctx.ttft = opened.first_at - ctx.started
        await _commit(ctx, send)
        if opened.first is None:
            before_end()
            await emit(b"", False)
            ctx.stream_done = True
            return
        payload = encode(ctx, opened.first)
        if payload:
            await emit(payload)
        last_event = last_sent = loop.time()
        while True:
            wake = min(last_event + timeouts.idle, total_deadline, last_sent + keepalive)
            try:
                async with asyncio.timeout_at(wake):
                    batch = await stream.read()
            except TimeoutError:
                now = loop.time()
                if now >= total_deadline:
                    raise StreamTotalTimeout(
                        f"Backend '{opened.target.backend}' exceeded its total timeout "
                        f"({timeouts.total:g}s) mid-stream."
                    ) from None
                if now >= last_event + timeouts.idle:
                    raise StreamIdleTimeout(
                        f"Backend '{opened.target.backend}' sent nothing for "
                        f"{timeouts.idle:g}s mid-stream."
                    ) from None
                await emit(KEEPALIVE_FRAME)
                last_sent = now
                continue
            if batch is None:
                end = endpoint.end_stream(ctx)
                before_end()
                await emit(end, False)
                ctx.stream_done = True
                return
            payload = encode(ctx, batch)
            last_event = loop.time()
            if payload:
                await emit(payload)
                last_sent = last_event
    except (StreamBroken, ContentFiltered) as exc:  # an output guardrail blocked (guard.py)
        ctx.fail(exc)
        frame = end_frame(ctx, endpoint, exc)
        before_end()
        await emit(frame, False)
    finally:
        await stream.aclose()


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
