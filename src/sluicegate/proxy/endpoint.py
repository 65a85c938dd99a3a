"""Endpoint: everything that differs between the inference endpoints, as data the shared
handler (`inference.py`), attempt loop (`engine.py`) and relay (`streaming.py`) run.

An API family served at the front door is one Endpoint value; the handler never tests which
one it has. What an Endpoint decides, in the order a request meets it:

    validate      request JSON → (model, stream); raises InvalidRequest, reported in
                  this endpoint's own envelope (`error_body`)
    wants_usage   whether the client asked for a usage chunk (OpenAI's include_usage)
    prepare       per target: the upstream call `(Operation, body)`, a `Reply` the gateway
                  answers itself, or None when the target cannot serve it (skipped; when
                  none can, 400). Per target, so one route may mix native and translated
                  backends (a `claude` model with an `openai` fallback).
    finish_reply  a whole reply → the bytes sent, noting usage on the context
    encode_chunks a batch of stream chunks → the SSE bytes sent, noting usage
    end_stream    the bytes that end a cleanly finished stream (`[DONE]`, `message_stop`,
                  `response.completed`)
    error_body    an error before the 200 → JSON in this API's envelope
    error_frame   a failure after the 200 → the one SSE event that ends the stream (given
                  the context, so a translated stream can continue its own numbering)
    compact       folds what the stream sent into the detail log's compact document

`ctx.op` tells `finish_reply` and `encode_chunks` which operation the answering target was
sent (native or translated); `ctx.stream_state` holds their per-request translation state.
To add an endpoint (as /v1/responses was): write these functions in a module of its own, build
one Endpoint, and add its path to `dispatch._INFERENCE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError
from ..providers.base import Chunk, Operation, Reply
from ..providers.sse import DONE_FRAME
from ..routing.table import Target
from . import envelopes
from .context import RequestContext
from .detail import compact
from .engine import Call
from .validation import wants_usage, with_model

Prepare = Callable[[dict[str, Any], Target], Call | None]


def end_with_done(ctx: RequestContext) -> bytes:
    """OpenAI streams end with `data: [DONE]` (SPEC 4.3)."""
    if ctx.capture is not None:
        ctx.capture.add_frame(DONE_FRAME)
    return DONE_FRAME


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One front-door API family; the defaults are OpenAI's (envelope, `[DONE]`, compact)."""

    validate: Callable[[dict[str, Any]], tuple[str, bool]]
    prepare: Prepare
    finish_reply: Callable[[RequestContext, Reply], bytes]
    encode_chunks: Callable[[RequestContext, list[Chunk]], bytes]
    end_stream: Callable[[RequestContext], bytes] = end_with_done
    wants_usage: Callable[[dict[str, Any]], bool] = wants_usage
    error_body: Callable[[GatewayError], bytes] = envelopes.error_body
    error_frame: Callable[[RequestContext, GatewayError], bytes] = envelopes.error_frame
    compact: Callable[[list[dict[str, Any]], bool], dict[str, Any]] = compact


def openai_call(op: Operation) -> Prepare:
    """`prepare` for an OpenAI-shaped endpoint: the body with the target's model, for every
    target whose provider serves `op`."""

    def prepare(request: dict[str, Any], target: Target) -> Call | None:
        if not target.provider.supports(op):
            return None
        return op, with_model(request, target.model, bool(request.get("stream")))

    return prepare
