"""The attempt loop: try targets in plan order until one answers, all before the first byte.

    for target in plan (strategy order, then fallbacks):
        try up to 1 + max_retries times:       connect error, 429, 5xx → backoff, same target
            non-stream: complete()  within total
            stream:     open_stream() + read() within min(first_token, total)   ← the peek
        timeout or retries spent → next target
    nothing left → the last error (502 upstream_error, 504 request_timeout, or upstream 4xx)

A stream counts as answered only when its first event arrived (or it ended cleanly with none):
that is the moment the caller may commit the 200 (SPEC 4.2). Every try, failed or not, is
recorded in `ctx.attempts`, with when it started and, when the request is traced, the span id
its upstream `traceparent` named (telemetry draws the attempt's span from it afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..errors import (
    GatewayError,
    InvalidRequest,
    UpstreamConnectError,
    UpstreamDisconnected,
    UpstreamStatusError,
    UpstreamTimeout,
    counts_against_target,
    retryable,
)
from ..providers.base import Chunk, Operation, Provider, Reply, UpstreamStream
from ..record import Attempt
from ..routing.health import HealthBoard
from ..routing.plan import attempt_order
from ..routing.table import ModelTable, Route, Target
from ..telemetry import traceparent
from .context import RequestContext

# What `prepare` returns for one target (see `endpoint.Endpoint.prepare`).
Call: TypeAlias = tuple[Operation, dict[str, Any]] | Reply

_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 5.0


@dataclass(slots=True)
class OpenedStream:
    """An upstream stream whose first read is done: `first` is None if it ended with no event."""

    stream: UpstreamStream
    first: list[Chunk] | None
    first_at: float  # perf_counter when the first event (or the clean end) arrived
    target: Target


async def run(
    ctx: RequestContext,
    table: ModelTable,
    route: Route,
    body: dict[str, Any],
    prepare: Callable[[dict[str, Any], Target], Call | None],
    board: HealthBoard,
) -> Reply | OpenedStream:
    """Return the first successful answer; raise the last failure when every try failed.

    `prepare(body, target)` says what to ask one target: `(operation, upstream body)`, a
    Reply the gateway makes itself (no upstream call, no attempt), or None to skip a target
    that cannot serve the request. The target that answered stays counted in flight on
    `board` until the caller releases it.
    """
    last_error: GatewayError | None = None
    for target in attempt_order(table, route, board):
        call = prepare(body, target)
        if call is None:
            continue
        if isinstance(call, Reply):
            ctx.target = target
            return call
        op, upstream_body = call
        provider = target.provider
        retries = 0
        while True:
            try:
                return await attempt(ctx, target, op, upstream_body, board)
            except GatewayError as exc:
                if not retryable(exc):
                    raise
                last_error = exc
                delay = _retry_delay(exc, retries, provider)
                if delay is None or board.cooling(target):
                    break
                retries += 1
                await _sleep_counted(ctx, delay)
    if last_error is None:
        raise InvalidRequest(f"No backend of model '{route.name}' serves {ctx.path}.")
    raise last_error


async def attempt(
    ctx: RequestContext,
    target: Target,
    op: Operation,
    body: dict[str, Any],
    board: HealthBoard,
) -> Reply | OpenedStream:
    """One try of `op` on `target`, recorded in `ctx.attempts` and on `board`; raises its
    GatewayError. Also how a broken stream's continuation is opened (`resume.py`)."""
    provider = target.provider
    started = time.perf_counter()
    ctx.target = target  # the log names the last target tried, failed or not
    ctx.op = op
    span_id, headers = _trace_headers(ctx)
    board.started(target)
    try:
        if ctx.stream:
            result: Reply | OpenedStream = await _open(provider, op, body, target, headers)
        else:
            result = await _complete(provider, op, body, headers)
    except GatewayError as exc:
        elapsed = time.perf_counter() - started
        board.released(target)
        ctx.upstream_seconds += elapsed
        ctx.attempts.append(_attempt(ctx, target, exc, started, elapsed, span_id))
        if counts_against_target(exc):
            board.failed(target, getattr(exc, "retry_after", None))
        else:
            board.reachable(target)
        raise
    except BaseException:
        board.released(target)  # cancelled (client gone): not the target's fault
        raise
    elapsed = time.perf_counter() - started
    board.succeeded(target, elapsed)
    ctx.upstream_seconds += elapsed
    ctx.attempts.append(
        Attempt(
            target.backend,
            target.model,
            200,
            None,
            elapsed * 1000,
            (started - ctx.started) * 1000,
            span_id,
        )
    )
    return result


def _trace_headers(ctx: RequestContext) -> tuple[int, dict[str, str] | None]:
    """The attempt's span id (0 untraced) and the trace headers it sends upstream."""
    trace = ctx.trace
    if trace is None:
        return 0, ctx.upstream_headers
    span_id = traceparent.new_span_id()
    return span_id, traceparent.attempt_headers(trace, span_id)


async def _complete(
    provider: Provider, op: Operation, body: dict[str, Any], headers: dict[str, str] | None
) -> Reply:
    total = provider.timeouts.total
    try:
        async with asyncio.timeout(total):
            return await provider.complete(op, body, headers)
    except TimeoutError as exc:
        raise UpstreamTimeout(
            f"Backend '{provider.name}' did not answer within its total timeout ({total:g}s)."
        ) from exc


async def _open(
    provider: Provider,
    op: Operation,
    body: dict[str, Any],
    target: Target,
    headers: dict[str, str] | None,
) -> OpenedStream:
    """Open the upstream stream and peek its first event within first_token (and total)."""
    timeouts = provider.timeouts
    limit = min(timeouts.first_token, timeouts.total)
    stream: UpstreamStream | None = None
    try:
        async with asyncio.timeout(limit):
            stream = await provider.open_stream(op, body, headers)
            first = await stream.read()
        return OpenedStream(stream, first, time.perf_counter(), target)
    except TimeoutError as exc:
        await _close_quietly(stream)
        raise UpstreamTimeout(
            f"Backend '{provider.name}' sent no first event within {limit:g}s."
        ) from exc
    except UpstreamDisconnected as exc:
        # Broken before the first event: nothing reached the client, so it is an upstream
        # failure like a refused connection (retryable), never a mid-stream break.
        await _close_quietly(stream)
        raise UpstreamConnectError(exc.message) from exc
    except BaseException:
        await _close_quietly(stream)
        raise


async def _close_quietly(stream: UpstreamStream | None) -> None:
    if stream is not None:
        # Closing a broken stream may fail again; there is nothing to add to the first error.
        with contextlib.suppress(Exception):
            await stream.aclose()


def _attempt(
    ctx: RequestContext,
    target: Target,
    error: GatewayError,
    started: float,
    elapsed: float,
    span_id: int,
) -> Attempt:
    status = error.upstream_status if isinstance(error, UpstreamStatusError) else None
    if isinstance(error, UpstreamTimeout):
        status = 504
    offset_ms = (started - ctx.started) * 1000
    return Attempt(
        target.backend, target.model, status, error.log_type, elapsed * 1000, offset_ms, span_id
    )


def _retry_delay(error: GatewayError, retries: int, provider: Provider) -> float | None:
    """Backoff before trying the same target again, or None to move on to the next target.

    Timeouts move on at once: waiting again on a target that just stalled rarely pays.
    """
    if isinstance(error, UpstreamTimeout) or retries >= provider.config.max_retries:
        return None
    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**retries)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        if retry_after > provider.timeouts.total:
            return None
        delay = max(delay, retry_after)
    return delay


async def _sleep_counted(ctx: RequestContext, delay: float) -> None:
    """Backoff is time waited on the upstream, not gateway overhead."""
    ctx.upstream_seconds += delay
    await asyncio.sleep(delay)
