"""Errors to wire shapes: the only place error JSON and SSE error frames are built."""

from __future__ import annotations

import orjson

from ..errors import GatewayError, error_object


def error_body(error: GatewayError) -> bytes:
    """`{"error": {"message", "type", "code", "param"}}` as OpenAI sends it."""
    return orjson.dumps({"error": error_object(error)})


def error_frame(error: GatewayError) -> bytes:
    """The one SSE event that ends a broken stream (SPEC 4.4; `server_error` when a drain
    ended it, SPEC 4.8); never followed by [DONE]."""
    payload = {"error": {"message": error.message, "type": error.type, "code": error.code}}
    return b"data: " + orjson.dumps(payload) + b"\n\n"
