"""/v1/responses: OpenAI's Responses API at the front door, for any model, translated to chat.

    any target serving chat  ─► the request translated to chat (translate.responses), the
                                reply and chunks translated back into a Response object and
                                Responses stream events, with increasing sequence numbers

Stateless: what relies on state stored by the server (`previous_response_id`, `conversation`,
`background`, item references) and OpenAI's built-in tools are refused with a 400 that says
why. `store` is accepted and ignored: nothing is stored, so a later retrieval is a 404.
Errors before the 200 use OpenAI's envelope; a stream ends with `response.completed` (or
`response.incomplete`), or with one `response.failed` when it breaks after the 200.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError, InvalidRequest
from ..providers.base import Chunk, Operation, Reply
from ..routing.table import Target
from ..translate.responses.request import responses_to_chat
from ..translate.responses.response import chat_to_response
from ..translate.responses.stream import ChunksToEvents
from .context import RequestContext
from .detail import compact_responses
from .endpoint import Call, Endpoint
from .validation import model_of, stream_of, with_model


def validate(request: dict[str, Any]) -> tuple[str, bool]:
    """Like OpenAI's API: a model, and `input` as a string or an array of items."""
    model = model_of(request)
    source = request.get("input")
    if not isinstance(source, (str, list)):
        raise InvalidRequest("'input' must be a string or an array of items.", param="input")
    return model, stream_of(request)


def _no_usage_option(request: dict[str, Any]) -> bool:
    return False  # Responses streams carry their usage in response.completed


def prepare(request: dict[str, Any], target: Target) -> Call | None:
    if target.provider.supports(Operation.CHAT):
        chat = responses_to_chat(request, target.model)
        return Operation.CHAT, with_model(chat, target.model, bool(chat.get("stream")))
    return None


def finish_reply(ctx: RequestContext, reply: Reply) -> bytes:
    usage = reply.obj.get("usage")
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


def encode_chunks(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    ctx.chunks_seen += len(chunks)
    translator = _translator(ctx)
    events: list[dict[str, Any]] = []
    for chunk in chunks:
        events.extend(translator.feed(chunk.obj))
    if translator.usage is not None:
        ctx.usage = translator.usage
    return _send(ctx, events)


def end_stream(ctx: RequestContext) -> bytes:
    """The open item's closing events and response.completed; nothing after it."""
    return _send(ctx, _translator(ctx).finish())


def error_frame(ctx: RequestContext, error: GatewayError) -> bytes:
    """The one `response.failed` that ends a broken stream, numbered after what was sent (the
    relay adds it to the detail capture)."""
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
