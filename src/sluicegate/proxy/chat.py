"""/v1/chat/completions and legacy /v1/completions: validation, upstream body, and the per-chunk
work of the relay (usage capture, hiding the usage-only chunk, reasoning copy)."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InvalidRequest
from ..providers.base import Chunk, Operation, Reply
from ..providers.sse import encode_data
from .context import RequestContext
from .endpoint import Endpoint, openai_call
from .reasoning import copy_reasoning
from .validation import model_of, stream_of


def validate_chat(request: dict[str, Any]) -> tuple[str, bool]:
    model = model_of(request)
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise InvalidRequest("Each message must be an object with a 'role'.", param="messages")
    return model, stream_of(request)


def validate_completions(request: dict[str, Any]) -> tuple[str, bool]:
    model = model_of(request)
    prompt = request.get("prompt")
    if not isinstance(prompt, (str, list)):
        raise InvalidRequest("'prompt' must be a string or an array.", param="prompt")
    return model, stream_of(request)


def finish_reply(ctx: RequestContext, reply: Reply) -> bytes:
    obj = reply.obj
    usage = obj.get("usage")
    if isinstance(usage, dict):
        ctx.usage = usage
    else:
        ctx.reply_chars = len(reply.body)
    principal = ctx.principal
    if (
        principal is not None
        and principal.copy_reasoning
        and copy_reasoning(obj.get("choices"), "message")
    ):
        return orjson.dumps(obj)
    return reply.body


def encode_chunks(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    principal = ctx.principal
    copy = principal is not None and principal.copy_reasoning
    ctx.chunks_seen += len(chunks)
    out = []
    for chunk in chunks:
        obj = chunk.obj
        usage = obj.get("usage")
        if usage:
            if isinstance(usage, dict):
                ctx.usage = usage
            if not ctx.client_wants_usage and not obj.get("choices"):
                continue  # the usage-only chunk the gateway asked for, not the client
        if copy and copy_reasoning(obj.get("choices"), "delta"):
            chunk.touched()
        out.append(encode_data(chunk.encoded()))
    payload = b"".join(out)
    if ctx.capture is not None:
        ctx.capture.add(chunks, payload)
    return payload


CHAT = Endpoint(validate_chat, openai_call(Operation.CHAT), finish_reply, encode_chunks)
COMPLETIONS = Endpoint(
    validate_completions, openai_call(Operation.COMPLETIONS), finish_reply, encode_chunks
)
