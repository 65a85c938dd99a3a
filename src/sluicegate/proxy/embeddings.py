"""/v1/embeddings: never streamed; the reply passes through as the upstream's bytes."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..providers.base import Chunk, Operation, Reply
from .context import RequestContext
from .endpoint import Endpoint, openai_call
from .validation import model_of


def validate(request: dict[str, Any]) -> tuple[str, bool]:
    model = model_of(request)
    if not isinstance(request.get("input"), (str, list)):
        raise InvalidRequest("'input' must be a string or an array.", param="input")
    if request.get("stream"):
        raise InvalidRequest("Embeddings cannot be streamed.", param="stream")
    return model, False


def finish_reply(ctx: RequestContext, reply: Reply) -> bytes:
    usage = reply.obj.get("usage")
    if isinstance(usage, dict):
        ctx.usage = usage
    return reply.body


def _no_stream(ctx: RequestContext, chunks: list[Chunk]) -> bytes:
    raise AssertionError("embeddings are never streamed")


EMBEDDINGS = Endpoint(validate, openai_call(Operation.EMBEDDINGS), finish_reply, _no_stream)
