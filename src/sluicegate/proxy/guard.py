"""Guardrails at the request's edges: the input before the upstream call, a whole answer
before it is sent, a stream chunk by chunk (`guardrails/` does the checking; this module only
ties it to the request context, the detail log and the upstream stream).

Masking happens before the detail log keeps a body: a masked request replaces
`ctx.request_text`, a masked answer is the payload the log stores, so masked data never
reaches the database. Each guardrail that acted is named in `ctx.guardrails` (the log's field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..errors import ContentFiltered
from ..guardrails.registry import Plan
from ..guardrails.texts import has_answer_texts
from ..guardrails.window import StreamWindow
from ..providers.base import Chunk, UpstreamStream
from .context import RequestContext
from .detail import body_text
from .engine import OpenedStream


def withheld(guardrail: str) -> str:
    """What the detail log stores instead of a request body a guardrail blocked."""
    return f"[sluicegate: body not stored: blocked by the guardrail '{guardrail}']"


def _acted(ctx: RequestContext) -> list[str]:
    if not isinstance(ctx.guardrails, list):
        ctx.guardrails = []
    return ctx.guardrails


async def check_input(ctx: RequestContext, plan: Plan, request: dict[str, Any]) -> None:
    """Block (ContentFiltered) or mask `request` in place before any upstream sees it. A
    blocked body is not kept for the detail log: what was blocked (a key, a card) must not
    reach the database either."""
    try:
        changed = await plan.check_input(ctx.path, ctx.model or "", request, _acted(ctx))
    except ContentFiltered as exc:
        if ctx.request_text is not None:
            ctx.request_text = withheld(exc.guardrail)
        raise
    if changed and ctx.request_text is not None:
        ctx.request_text = body_text(orjson.dumps(request))


async def check_reply(ctx: RequestContext, plan: Plan, payload: bytes) -> bytes:
    """The answer to send: `payload` itself, or masked; raises ContentFiltered to block it.
    Parsed only when the model has output guardrails."""
    if not (plan.guards_output and has_answer_texts(ctx.path)):
        return payload
    obj = orjson.loads(payload)
    if await plan.check_reply(ctx.path, ctx.model or "", obj, _acted(ctx)):
        return orjson.dumps(obj)
    return payload


async def check_stream(ctx: RequestContext, plan: Plan, opened: OpenedStream) -> OpenedStream:
    """`opened` with its stream scanned by the plan's window. A match in the first events
    (before the 200) is a plain 400; later, the relay ends the stream with the error event."""
    window = plan.window(ctx.op.value) if ctx.op is not None else None
    if window is None:
        return opened
    return await _under(opened, window, _acted(ctx))


async def _under(opened: OpenedStream, window: StreamWindow, acted: list[str]) -> OpenedStream:
    """`opened` read through `window`, its peeked first events scanned now (closed on a
    match, which is raised)."""
    guarded = GuardedStream(opened.stream, window, acted)
    if opened.first:
        try:
            guarded.scan(opened.first)
        except ContentFiltered:
            await opened.stream.aclose()
            raise
    opened.stream = guarded
    return opened


def continuing(
    ctx: RequestContext, opened: OpenedStream
) -> Callable[[OpenedStream], Awaitable[OpenedStream]] | None:
    """For a resumed stream (SPEC 4.9): what puts each continuation under `opened`'s window,
    so a match split across the break is still caught; None when `opened` is not scanned.
    The window reads the continuation's chunks in their own shape (`ctx.op`, which may differ
    from the broken stream's: a native Responses stream is continued through chat)."""
    guarded = opened.stream
    if not isinstance(guarded, GuardedStream):
        return None

    async def wrap(continuation: OpenedStream) -> OpenedStream:
        if ctx.op is not None:
            guarded._window.read_as(ctx.op.value)
        return await _under(continuation, guarded._window, guarded._acted)

    return wrap


class GuardedStream:
    """An `UpstreamStream` whose every batch goes through the window before it is relayed."""

    __slots__ = ("_acted", "_inner", "_window")

    def __init__(self, inner: UpstreamStream, window: StreamWindow, acted: list[str]) -> None:
        self._inner = inner
        self._window = window
        self._acted = acted

    def scan(self, batch: list[Chunk]) -> None:
        try:
            for chunk in batch:
                self._window.feed(chunk.obj)
        except ContentFiltered as exc:
            self._acted.append(exc.guardrail)
            raise

    async def read(self) -> list[Chunk] | None:
        batch = await self._inner.read()
        if batch:
            self.scan(batch)
        return batch

    async def aclose(self) -> None:
        await self._inner.aclose()
