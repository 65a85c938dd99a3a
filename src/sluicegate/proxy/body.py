"""Reading the request body with the size limit enforced as it arrives, and parsing it once."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ..errors import ClientDisconnected, InvalidJSON, RequestTimeout, RequestTooLarge
from ..types import Receive


async def read_body(
    receive: Receive, limit: int, content_length: bytes | None, seconds: float = 30.0
) -> bytes:
    """The whole body, within `limit` bytes and, past its first part, `seconds` (a
    client trickling a body would otherwise hold a request slot for ever)."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected("Client disconnected while sending the request.")
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        return body
    try:
        async with asyncio.timeout(seconds):
            return await _read_rest(receive, limit, body)
    except TimeoutError:
        raise RequestTimeout(f"The request body was not received within {seconds:g}s.") from None


async def _read_rest(receive: Receive, limit: int, body: bytes) -> bytes:
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("Client disconnected while sending the request.")
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        parts.append(part)
        if not message.get("more_body"):
            return b"".join(parts)


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"The request body is not valid JSON: {exc.msg}.") from exc
    if not isinstance(obj, dict):
        raise InvalidJSON("The request body must be a JSON object.")
    return obj
