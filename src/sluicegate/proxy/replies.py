"""Sending whole JSON responses (successes and errors) with the gateway's standard headers."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import GatewayError
from ..types import Headers, Send
from .context import RequestContext
from .envelopes import error_body
from .headers import json_headers, overhead_header


async def send_json(
    send: Send, status: int, body: bytes, request_id: str, extra: Headers | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": json_headers(request_id, len(body), extra),
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_reply(ctx: RequestContext, send: Send, body: bytes) -> None:
    """A proxied 200, with the gateway's own time in `x-sluicegate-overhead-ms`."""
    extra = [overhead_header(ctx.mark_overhead())]
    ctx.response_started = True
    ctx.status = 200
    await send_json(send, 200, body, ctx.request_id, extra)


async def send_error(
    ctx: RequestContext,
    send: Send,
    error: GatewayError,
    envelope: Callable[[GatewayError], bytes] = error_body,
) -> None:
    """An error before the response started, in the endpoint's `envelope`."""
    ctx.response_started = True
    body = envelope(error)
    if ctx.request_text is not None:
        ctx.response_text = body.decode()
    await send_json(send, error.status_code, body, ctx.request_id, error.headers())
