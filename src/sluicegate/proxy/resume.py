"""Mid-stream resume (SPEC 4.9): what a stream has sent, and its continuation on another
target when it breaks.

    relay ─ feed(batch) ─► Resumer notes the text sent, tool calls, reasoning, finish
      │                    (through the current Splice once a continuation runs)
      └ break ─► resume(error, broken):
            resumable?  model's stream_resume_attempts left, chat chunks, text only so far,
                        no finish yet, a reset / close / idle timeout / retryable error event
            close the broken upstream, mark its attempt, carry its usage and cost
            for each target in strategy order, then fallbacks (untried ones first), but
            the one that just broke:
                continuation = prepare(request) + text so far as the last assistant message
                engine.attempt(...)  ─ first event within the new target's first_token
                ok  ─► a new Splice (same id, no role, overlap trimmed); the relay goes on
            nothing left ─► the break is raised again: SPEC 4.4's one error event

What a stream sent and how its continuation is spliced depend on its wire, `ctx.op` (a
track per wire): chat chunks (`Operation.CHAT`: chat completions, and the /v1/messages and
/v1/responses streams a target serves through translation) and legacy completions chunks in
`splice_openai.py`, Anthropic's own events (/v1/messages forwarded) in `splice_anthropic.py`.
A continuation is asked only of targets that answer in the same wire, except for a stream
forwarded in the Responses API's own events: that API has no prefill, so it is continued
through chat and translated on (`splice_responses.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from ..config.schema import BackendConfig
from ..errors import GatewayError, StreamBroken, StreamTotalTimeout, UpstreamDisconnected
from ..providers.base import Chunk, Operation
from ..routing.health import HealthBoard
from ..routing.plan import attempt_order
from ..routing.table import ModelTable, Route, Target
from . import engine
from .context import RequestContext
from .endpoint import Prepare
from .splice import Call, Splice
from .splice_anthropic import MessagesTrack
from .splice_openai import OpenAITrack
from .splice_responses import ResponsesTrack


class Track(Protocol):
    """What one wire's stream has sent, and how that wire continues it."""

    parts: list[str]  # the continued text sent to the client, in order

    @property
    def blocked(self) -> bool:
        """A tool call or reasoning went out: never resumed."""
        ...

    @property
    def finished(self) -> bool:
        """The answer's end went out: nothing left to continue."""
        ...

    def note(self, obj: dict[str, Any]) -> None: ...

    def call(self, prepare: Prepare, request: dict[str, Any], target: Target) -> Call | None:
        """What `target` would be asked to continue (before the text is added), or None
        when it cannot continue this stream (it would answer in another wire)."""
        ...

    def body(
        self, config: BackendConfig, body: dict[str, Any], text: str
    ) -> tuple[dict[str, Any], str]: ...

    def splice(self, prefix: str, tail: str, carried: Any) -> Splice: ...


def _track(ctx: RequestContext, request: dict[str, Any]) -> Track | None:
    op = ctx.op
    if op is Operation.CHAT:
        return OpenAITrack(completions=False)
    if op is Operation.COMPLETIONS:
        # A batch or token prompt, or `echo` (the prompt repeated in the answer), cannot be
        # continued by appending text to the prompt.
        if isinstance(request.get("prompt"), str) and not request.get("echo"):
            return OpenAITrack(completions=True)
        return None
    if op is Operation.MESSAGES:
        return MessagesTrack()
    if op is Operation.RESPONSES:
        return ResponsesTrack(ctx)  # continued through chat: no prefill in that API
    return None


def resumer_for(
    ctx: RequestContext,
    table: ModelTable,
    route: Route,
    request: dict[str, Any],
    prepare: Prepare,
    board: HealthBoard,
) -> Resumer | None:
    """A Resumer when the model allows resume and the request can be continued at all:
    one choice (`n` 1), no logprobs (a continuation's would not line up with the client's)."""
    if not ctx.stream or route.stream_resume_attempts <= 0:
        return None
    n = request.get("n")
    if (n is not None and n != 1) or request.get("logprobs") or request.get("top_logprobs"):
        return None
    track = _track(ctx, request)
    if track is None:
        return None
    return Resumer(ctx, table, route, request, prepare, board, track)


class Resumer:
    """One streamed request's resume state; `feed` is on the relay's hot path (resume on)."""

    __slots__ = (
        "_board",
        "_ctx",
        "_left",
        "_prepare",
        "_request",
        "_route",
        "_splice",
        "_table",
        "_track",
        "rewrap",
    )

    def __init__(
        self,
        ctx: RequestContext,
        table: ModelTable,
        route: Route,
        request: dict[str, Any],
        prepare: Prepare,
        board: HealthBoard,
        track: Track,
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._route = route
        self._request = request
        self._prepare = prepare
        self._board = board
        self._track = track
        self._left = route.stream_resume_attempts
        self._splice: Splice | None = None
        # Set when output guardrails scan the stream: puts a continuation under the same
        # window (`guard.continuing`), so the stitched answer is checked as one text.
        self.rewrap: Callable[[engine.OpenedStream], Awaitable[engine.OpenedStream]] | None = None

    def feed(self, chunks: list[Chunk]) -> list[Chunk]:
        """The chunks to send for one upstream batch (spliced once a continuation runs)."""
        if self._splice is not None:
            chunks = self._splice.feed(chunks)
        note = self._track.note
        for chunk in chunks:
            note(chunk.obj)
        return chunks

    def flush(self) -> list[Chunk]:
        """At a clean end: what the splice still held back."""
        if self._splice is None:
            return []
        chunks = self._splice.flush()
        for chunk in chunks:
            self._track.note(chunk.obj)
        return chunks

    def _resumable(self, error: StreamBroken) -> bool:
        track = self._track
        if self._left <= 0 or track.blocked or track.finished:
            return False
        if isinstance(error, StreamTotalTimeout):
            return False
        return not isinstance(error, UpstreamDisconnected) or error.resumable

    async def resume(self, error: StreamBroken, broken: engine.OpenedStream) -> engine.OpenedStream:
        """The continuation to relay from now on, opened and peeked; raises `error` when the
        stream cannot or could not be continued."""
        ctx = self._ctx
        _mark_broken(ctx, error)
        if not self._resumable(error):
            raise error
        calls = self._calls(broken.target)
        if not calls:
            raise error  # no other target can continue a stream of this wire
        with contextlib.suppress(Exception):  # stop the broken upstream at once
            await broken.stream.aclose()
        board = self._board
        board.released(broken.target)
        board.failed(broken.target)
        text = "".join(self._track.parts)
        ctx.carry_over(len(text.encode()))
        for target, (op, body) in calls:
            if self._left <= 0:
                break
            opened = await self._try(target, op, body, text)
            if opened is not None:
                return opened
        raise error

    def _calls(self, broken: Target) -> list[tuple[Target, Call]]:
        """The targets that can continue, with the call each would be sent: strategy order,
        then fallbacks, without the target that just broke and those that cannot continue
        this wire (`Track.call`); targets this request has not tried yet first (one that
        broke a moment ago rarely does better)."""
        tried = {(a.backend, a.model) for a in self._ctx.attempts}
        failed = (broken.backend, broken.model)
        calls = []
        for target in attempt_order(self._table, self._route, self._board):
            if (target.backend, target.model) == failed:
                continue
            call = self._track.call(self._prepare, self._request, target)
            if call is not None:
                calls.append((target, call))
        return sorted(calls, key=lambda call: (call[0].backend, call[0].model) in tried)

    async def _try(
        self, target: Target, op: Operation, body: dict[str, Any], text: str
    ) -> engine.OpenedStream | None:
        body, prefix = self._track.body(target.provider.config, body, text)
        self._left -= 1
        ctx = self._ctx
        ctx.resumed = True
        try:
            opened = await engine.attempt(ctx, target, op, body, self._board)
        except GatewayError:
            return None  # recorded as a failed attempt; on to the next target
        assert isinstance(opened, engine.OpenedStream)
        if self.rewrap is not None:
            opened = await self.rewrap(opened)  # raises ContentFiltered: not resumed further
        carried = ctx.carried[0] if ctx.carried is not None else None
        self._splice = self._track.splice(prefix, text[len(prefix) :], carried)
        ctx.usage_summed = True  # a usage report the client sees includes `carried`
        return opened


def _mark_broken(ctx: RequestContext, error: StreamBroken) -> None:
    """The attempt that answered 200 and then broke says so in the log."""
    if ctx.attempts and ctx.attempts[-1].error_type is None:
        ctx.attempts[-1] = replace(ctx.attempts[-1], error_type=error.log_type)
