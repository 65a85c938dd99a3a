"""/v1/responses: OpenAI's Responses API at the front door, for any model.

    openai target with        ─► forwarded as is (model swapped) to its `/responses`; the
      `responses: native`        reply's bytes and the stream's events go back untouched,
                                 usage read from the reply or `response.completed`
    any other chat target     ─► the request translated to chat (translate.responses), the
                                 reply and chunks translated back into a Response object and
                                 Responses stream events, with increasing sequence numbers

Stateless when translated: what relies on state stored by the server
(`previous_response_id`, `conversation`, `background`, item references) and OpenAI's
built-in tools are refused with a 400 that says why. `store` is accepted and ignored:
nothing is stored, so a later retrieval is a 404.
Errors before the 200 use OpenAI's envelope; a stream ends with `response.completed` (or
`response.incomplete`), or with one `response.failed` when it breaks after the 200.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError, InvalidRequest, UpstreamDisconnected
from ..providers.base import Chunk, Operation, Reply
from ..routing.table import Target
from ..translate.responses.request import responses_to_chat
from ..translate.responses.response import (
    chat_to_response,
    chat_usage,
    response_id,
    response_object,
)
from ..translate.responses.stream import ChunksToEvents
from .context import RequestContext
from .detail import compact_responses
from .endpoint import Call, Endpoint
from .validation import model_of, stream_of, with_model


def validate(request: dict[str, Any]) -> tuple[str, bool]:
    """Like OpenAI's API: a model, and `input` as a string or an array of items (which may be
    left out only beside what names stored input, for native backends)."""
    model = model_of(request)
    source = request.get("input")
    if source is None and any(request.get(key) for key in _STORED_INPUT):
        return model, stream_of(request)
    if not isinstance(source, (str, list)):
        raise InvalidRequest("'input' must be a string or an array of items.", param="input")
    return model, stream_of(request)


_STORED_INPUT = ("previous_response_id", "conversation", "prompt")


def _no_usage_option(request: dict[str, Any]) -> bool:
    return False  # Responses streams carry their usage in response.completed


def prepare(request: dict[str, Any], target: Target) -> Call | None:
    if target.provider.supports(Operation.RESPONSES):
        return Operation.RESPONSES, {**request, "model": target.model}
    if target.provider.supports(Operation.CHAT):
        chat = responses_to_chat(request, target.model)
        return Operation.CHAT, with_model(chat, target.model, bool(chat.get("stream")))
    return None


def finish_reply(ctx: RequestContext, reply: Reply) -> bytes:
    usage = reply.obj.get("usage")
    if ctx.op is Operation.RESPONSES:
        ctx.usage = chat_usage(usage)
        if ctx.usage is None:
            ctx.reply_chars = len(reply.body)
        return reply.body
    if isinstance(usage, dict):
        ctx.usage = usage
    else:
        ctx.reply_chars = len(reply.body)
    return orjson.dumps(chat_to_response(reply.obj, ctx.model))


def _frame(event: dict[str, Any]) -> bytes:
    data = orjson.dumps(event)
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + data + b"\n\n"


def _translator(ctx: RequestContext) -> ChunksToEvents:
    translator = ctx.stream_state
    if not isinstance(translator, ChunksToEvents):
        translator = ctx.stream_state = ChunksToEvents(None)
    return translator


def _send(ctx: RequestContext, events: list[dict[str, Any]]) -> bytes:
    payload = b"".join(_frame(event) for event in events)
    if ctx.capture is not None:
        ctx.capture.add_objects(events, payload)
    return payload


class _Forwarded:
    """What a forwarded native stream has shown so far: enough to number and fill in the
    `response.failed` the gateway adds when it breaks, and to tell a finished stream."""

    __slots__ = ("created", "ended", "model", "next_seq", "rid")

    def __init__(self) -> None:
        self.rid: str | None = None
        self.model: Any = None
        self.created: Any = None
        self.next_seq = 0
        self.ended = False

    def see(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Note one event; its final response's usage when it ends the stream."""
        seq = event.get("sequence_number")
        if type(seq) is int:
            self.next_seq = seq + 1
        response = event.get("response")
        if not isinstance(response, dict):
            return None
        if self.rid is None:
            self.rid, self.model = response.get("id"), response.get("model")
            self.created = response.get("created_at")
        if event.get("type") in _FINAL:
            self.ended = True
            return chat_usage(response.get("usage"))
        return None

    def failed(self, error: GatewayError) -> dict[str, Any]:
        response = response_object(
            self.rid or response_id(None), self.model, self.created, [], "failed"
        )
        response["error"] = {"code": "server_error", "message": f"{error.code}: {error.message}"}
        return {"type": "response.failed", "sequence_number": self.next_seq, "response": response}


_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _forwarded(ctx: RequestContext) -> _Forwarded:
    state = ctx.stream_state
    if not isinstance(state, _Forwarded):
        state = ctx.stream_state = _Forwarded()
    return state


def _pass_through(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    """Responses events as received, each under its `event:` name."""
    state = _forwarded(ctx)
    out = []
    for chunk in chunks:
        usage = state.see(chunk.obj)
        if usage is not None:
            ctx.usage = usage
        name = chunk.obj.get("type")
        kind = name.encode() if isinstance(name, str) else b"message"
        out.append(b"event: " + kind + b"\ndata: " + (chunk.raw or orjson.dumps(chunk.obj)))
        out.append(b"\n\n")
    payload = b"".join(out)
    if ctx.capture is not None:
        ctx.capture.add(chunks, payload)
    return payload


def encode_chunks(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    ctx.chunks_seen += len(chunks)
    if ctx.op is Operation.RESPONSES:
        return _pass_through(ctx, chunks)
    translator = _translator(ctx)
    events: list[dict[str, Any]] = []
    for chunk in chunks:
        events.extend(translator.feed(chunk.obj))
    if translator.usage is not None:
        ctx.usage = translator.usage
    return _send(ctx, events)


def end_stream(ctx: RequestContext) -> bytes:
    """The open item's closing events and response.completed; nothing after it. A native
    stream closed before its final event is a broken one (SPEC 4.4): the upstream ends its
    streams with `response.completed`, not by closing."""
    if ctx.op is Operation.RESPONSES:
        if not _forwarded(ctx).ended:
            raise UpstreamDisconnected("The backend closed the stream before response.completed.")
        return b""
    return _send(ctx, _translator(ctx).finish())


def error_frame(ctx: RequestContext, error: GatewayError) -> bytes:
    """The one `response.failed` that ends a broken stream, numbered after what was sent (the
    relay adds it to the detail capture)."""
    if ctx.op is Operation.RESPONSES:
        return _frame(_forwarded(ctx).failed(error))
    return _frame(_translator(ctx).failed(error.code, error.message))


RESPONSES = Endpoint(
    validate,
    prepare,
    finish_reply,
    encode_chunks,
    end_stream=end_stream,
    wants_usage=_no_usage_option,
    error_frame=error_frame,
    compact=compact_responses,
)
