"""Errors to wire shapes: the only place error JSON and SSE error frames are built, in the
OpenAI envelope and (for /v1/messages) Anthropic's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..errors import GatewayError, UpstreamStatusError, error_object
from ..translate.anthropic.common import ERROR_TYPES, KNOWN_ERROR_TYPES
from ..translate.anthropic.common import error_type as anthropic_type_of

if TYPE_CHECKING:
    from .context import RequestContext


def error_body(error: GatewayError) -> bytes:
    """`{"error": {"message", "type", "code", "param"}}` as OpenAI sends it."""
    return orjson.dumps({"error": error_object(error)})


def error_frame(ctx: RequestContext, error: GatewayError) -> bytes:
    """The one SSE event that ends a broken stream (SPEC 4.4; `server_error` when a drain
    ended it, SPEC 4.8); never followed by [DONE]."""
    payload = {"error": {"message": error.message, "type": error.type, "code": error.code}}
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def anthropic_error_type(error: GatewayError) -> str:
    """Anthropic's error type for an error (SPEC 3), by status; an upstream 4xx with a status
    Anthropic's table does not name keeps its own type when it is one of Anthropic's."""
    status = error.status_code
    if isinstance(error, UpstreamStatusError) and error.passthrough and status not in ERROR_TYPES:
        upstream = error.upstream_type
        if upstream is not None and upstream in KNOWN_ERROR_TYPES:
            return upstream
    return anthropic_type_of(status)


def anthropic_error_body(error: GatewayError) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}`, the /v1/messages envelope."""
    message = error_object(error)["message"]
    return orjson.dumps(
        {"type": "error", "error": {"type": anthropic_error_type(error), "message": message}}
    )


def anthropic_error_frame(ctx: RequestContext, error: GatewayError) -> bytes:
    """The `event: error` that ends a broken /v1/messages stream; never a message_stop."""
    payload = {"type": "error", "error": {"type": "api_error", "message": error.message}}
    return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
