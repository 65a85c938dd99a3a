"""/v1/messages and /v1/messages/count_tokens: Anthropic's Messages API at the front door, for
any model.

    target speaks Messages (anthropic)  ─► forwarded as is (model swapped); the reply's bytes
                                           and the stream's events go back untouched, usage
                                           read on the way
    any other target                    ─► translated to chat (translate.anthropic), the
                                           reply and chunks translated back into a Message
                                           and Messages events

Errors use Anthropic's envelope and types; a stream ends with `message_stop`, or with one
`event: error` (`api_error`) when it breaks after the 200. count_tokens is forwarded to
anthropic targets and estimated (4 characters a token, `"estimated": true`) for the others.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InvalidRequest
from ..providers.base import Chunk, Operation, Reply
from ..record import estimate_tokens
from ..routing.table import Target
from ..translate.anthropic.common import chat_usage
from ..translate.anthropic.request import messages_to_chat
from ..translate.anthropic.response import chat_to_message
from ..translate.anthropic.stream import ChunksToEvents
from .context import RequestContext
from .detail import compact_messages
from .endpoint import Call, Endpoint
from .envelopes import anthropic_error_body, anthropic_error_frame
from .validation import stream_of

_ROLES = ("user", "assistant")


def _model(request: dict[str, Any]) -> str:
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required", param="model")
    return model


def _messages(request: dict[str, Any]) -> None:
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: Field required", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise InvalidRequest(
                f"messages.{index}.role: Input should be 'user' or 'assistant'", param="messages"
            )
        content = message.get("content")
        if not isinstance(content, (str, list)):
            raise InvalidRequest(f"messages.{index}.content: Field required", param="messages")


def validate(request: dict[str, Any]) -> tuple[str, bool]:
    """Like Anthropic's API: model, messages and max_tokens are required."""
    model = _model(request)
    _messages(request)
    if not request.get("messages"):
        raise InvalidRequest("messages: at least one message is required", param="messages")
    max_tokens = request.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("max_tokens: Field required", param="max_tokens")
    if type(max_tokens) is not int or max_tokens < 1:
        raise InvalidRequest("max_tokens: Input should be a positive integer", param="max_tokens")
    return model, stream_of(request)


def _no_usage_option(request: dict[str, Any]) -> bool:
    return False  # Messages streams always carry their usage in message_delta


def prepare(request: dict[str, Any], target: Target) -> Call | None:
    provider = target.provider
    if provider.supports(Operation.MESSAGES):
        return Operation.MESSAGES, {**request, "model": target.model}
    if provider.supports(Operation.CHAT):
        return Operation.CHAT, messages_to_chat(request, target.model)
    return None


def finish_reply(ctx: RequestContext, reply: Reply) -> bytes:
    if ctx.op is Operation.MESSAGES:
        usage = reply.obj.get("usage")
        if isinstance(usage, dict):
            ctx.usage = chat_usage(usage)
        else:
            ctx.reply_chars = len(reply.body)
        return reply.body
    usage = reply.obj.get("usage")
    if isinstance(usage, dict):
        ctx.usage = usage
    else:
        ctx.reply_chars = len(reply.body)
    return orjson.dumps(chat_to_message(reply.obj, ctx.model))


def _frame(event: dict[str, Any], data: bytes | None = None) -> bytes:
    name = event.get("type")
    kind = name.encode() if isinstance(name, str) else b"message"
    return b"event: " + kind + b"\ndata: " + (data or orjson.dumps(event)) + b"\n\n"


def encode_chunks(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    if ctx.op is Operation.MESSAGES:
        return _pass_through(ctx, chunks)
    ctx.chunks_seen += len(chunks)
    translator = ctx.stream_state
    if translator is None:
        translator = ctx.stream_state = ChunksToEvents(None)
    events: list[dict[str, Any]] = []
    for chunk in chunks:
        events.extend(translator.feed(chunk.obj))
    if translator.usage is not None:
        ctx.usage = translator.usage
    payload = b"".join(_frame(event) for event in events)
    if ctx.capture is not None:
        ctx.capture.add_objects(events, payload)
    return payload


def _pass_through(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    """Anthropic events as received; usage from message_start and message_delta. Only the
    content deltas count as chunks seen: until a message_delta brings the output count,
    message_start's is a placeholder (`usage_partial`) and a broken stream's output is
    those chunks (`RequestContext._usage_and_cost`)."""
    out = []
    for chunk in chunks:
        obj = chunk.obj
        kind = obj.get("type")
        if kind == "content_block_delta":
            ctx.chunks_seen += 1
        if kind == "message_start" or kind == "message_delta":
            holder = obj.get("message") if kind == "message_start" else obj
            usage = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(usage, dict):
                merged = ctx.stream_state if isinstance(ctx.stream_state, dict) else {}
                merged.update({k: v for k, v in usage.items() if v is not None})
                ctx.stream_state = merged
                ctx.usage = chat_usage(merged)
                # message_delta's counts are cumulative: its output count is the final one.
                ctx.usage_partial = kind == "message_start" or (
                    ctx.usage_partial and usage.get("output_tokens") is None
                )
        out.append(_frame(obj, chunk.raw))
    payload = b"".join(out)
    if ctx.capture is not None:
        ctx.capture.add(chunks, payload)
    return payload


def end_stream(ctx: RequestContext) -> bytes:
    """Nothing after a forwarded stream (its message_stop went through); the closing
    events of a translated one."""
    translator = ctx.stream_state
    if ctx.op is Operation.MESSAGES or not isinstance(translator, ChunksToEvents):
        return b""
    events = translator.finish()
    payload = b"".join(_frame(event) for event in events)
    if ctx.capture is not None:
        ctx.capture.add_objects(events, payload)
    return payload


MESSAGES = Endpoint(
    validate,
    prepare,
    finish_reply,
    encode_chunks,
    end_stream=end_stream,
    wants_usage=_no_usage_option,
    error_body=anthropic_error_body,
    error_frame=anthropic_error_frame,
    compact=compact_messages,
)


# count_tokens -------------------------------------------------------------------------------


def validate_count(request: dict[str, Any]) -> tuple[str, bool]:
    model = _model(request)
    _messages(request)
    return model, False


def prepare_count(request: dict[str, Any], target: Target) -> Call | None:
    if target.provider.supports(Operation.COUNT_TOKENS):
        return Operation.COUNT_TOKENS, {**request, "model": target.model}
    return Reply(*_estimate(request))


def _estimate(request: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """About 4 characters a token of what the model reads: system, messages, tools."""
    counted = {key: request.get(key) for key in ("system", "messages", "tools")}
    obj = {"input_tokens": max(1, estimate_tokens(len(orjson.dumps(counted)))), "estimated": True}
    return orjson.dumps(obj), obj


def finish_count(ctx: RequestContext, reply: Reply) -> bytes:
    ctx.usage = {"prompt_tokens": 0, "completion_tokens": 0}  # counting costs nothing
    return reply.body


def _no_stream(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    raise AssertionError("count_tokens is never streamed")


COUNT_TOKENS = Endpoint(
    validate_count,
    prepare_count,
    finish_count,
    _no_stream,
    wants_usage=_no_usage_option,
    error_body=anthropic_error_body,
    error_frame=anthropic_error_frame,
)
