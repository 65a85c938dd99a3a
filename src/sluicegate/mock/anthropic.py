"""The mock's Anthropic Messages wire format, as pure functions (no I/O): request checks, the
text a directive is read from, whole answers, stream events, error bodies and events.

Faithful to Anthropic's public API: a key (`x-api-key`, or `Authorization` as newer SDKs
send) and `anthropic-version` are required (401 / 400 otherwise), as is `max_tokens`; errors
are `{"type": "error", "error": {"type", "message"}}` with Anthropic's type for the status
(529 `overloaded_error`); every answer has a `request-id` header. A stream is

    message_start, content_block_start, ping, content_block_delta..., content_block_stop,
    [next block ...], message_delta {stop_reason, usage.output_tokens}, message_stop

with `event: <type>` before each `data:`. The directives of `directives.py` mean the same here,
counted in content deltas: chunks=N text deltas "w{i} " (cut at `max_tokens`, stop_reason
`max_tokens`); reasoning=1 a thinking block first (N thinking_delta "r{i} " and a
signature_delta, each thinking delta a chunk too); tools=1 a get_weather tool_use block
(content_block_start and 3 input_json_delta pieces, 4 chunks; `tool_calls=K` makes K parallel
calls, K*4 chunks) and stop_reason `tool_use`; error_event_after=N an `event: error`
(`overloaded_error`) after N chunks, then a clean end. output_tokens = the chunks answered;
input_tokens = the words of the system prompt and every message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson

from .directives import Directive, Meta, continued_words

_TOOL_NAME = "get_weather"
_TOOL_ARGUMENTS = ('{"city": ', '"Paris"', "}")
_TOOL_INPUT = {"city": "Paris"}
_SIGNATURE = "mock-signature"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

ERROR_EVENT = (
    b"event: error\n"
    b'data: {"type":"error","error":{"type":"overloaded_error","message":"mock upstream error"}}'
    b"\n\n"
)


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(status: int, message: str) -> bytes:
    error = {"type": error_type(status), "message": message}
    return orjson.dumps({"type": "error", "error": error})


def status_body(d: Directive) -> bytes:
    """The Anthropic error body answered with `status=N`."""
    return error_body(d.status, f"mock status {d.status}")


def headers(record: dict[str, Any]) -> dict[str, str]:
    return {"request-id": f"req_mock{record['seq']}"}


def check(
    headers: Mapping[str, str], body: dict[str, Any], count: bool
) -> tuple[int, bytes] | None:
    """The error Anthropic's API answers for a request it refuses, or None."""
    if not headers.get("x-api-key") and not headers.get("authorization"):
        return 401, error_body(401, "x-api-key header is required")
    if not headers.get("anthropic-version"):
        return 400, error_body(400, "anthropic-version: header is required")
    if not isinstance(body.get("model"), str):
        return 400, error_body(400, "model: Field required")
    if not isinstance(body.get("messages"), list):
        return 400, error_body(400, "messages: Field required")
    if not count and not isinstance(body.get("max_tokens"), int):
        return 400, error_body(400, "max_tokens: Field required")
    return None


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.append(_block_text(block.get("content")))
    return "\n".join(texts)


def messages_text(body: dict[str, Any]) -> tuple[str, int]:
    """The last user turn's text (tool results included), and the words of the whole prompt."""
    words = len(_block_text(body.get("system")).split())
    last_user = ""
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        text = _block_text(message.get("content"))
        words += len(text.split())
        if message.get("role") == "user":
            last_user = text
    return last_user, words


def _message_id(meta: Meta) -> str:
    return meta.id.replace("-", "_", 1)


def _usage(meta: Meta, output: int) -> dict[str, Any]:
    return {
        "input_tokens": meta.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    }


def _text_count(d: Directive, meta: Meta) -> tuple[int, bool]:
    """How many text deltas to answer, and whether max_tokens cut them."""
    limit = meta.request.get("max_tokens")
    if isinstance(limit, int) and 0 <= limit < d.chunks:
        return limit, True
    return d.chunks, False


def _event(obj: dict[str, Any]) -> bytes:
    return b"event: " + obj["type"].encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def _tool_count(d: Directive) -> int:
    return max(1, d.tool_calls or 1)


def stream(d: Directive, meta: Meta) -> tuple[list[bytes], list[bytes]]:
    """A Messages stream's content events (one per content delta, the block and message
    openings folded into the first), and its tail (stops, message_delta, message_stop)."""
    start = {
        "type": "message_start",
        "message": {
            "id": _message_id(meta),
            "type": "message",
            "role": "assistant",
            "model": meta.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_usage(meta, 1)},
        },
    }
    content: list[bytes] = []
    pending = [_event(start)]  # written with the next content event
    index = 0

    def open_block(block: dict[str, Any]) -> None:
        pending.append(
            _event({"type": "content_block_start", "index": index, "content_block": block})
        )
        if index == 0:
            pending.append(_event({"type": "ping"}))

    def delta(piece: dict[str, Any]) -> None:
        event = _event({"type": "content_block_delta", "index": index, "delta": piece})
        content.append(b"".join([*pending, event]))
        pending.clear()

    def close_block() -> None:
        pending.append(_event({"type": "content_block_stop", "index": index}))

    stop_reason = "end_turn"
    if d.tools:
        for call in range(_tool_count(d)):
            block = {"type": "tool_use", "id": f"toolu_mock{call}", "name": _TOOL_NAME, "input": {}}
            open_block(block)
            content.append(b"".join(pending))
            pending.clear()
            for piece in _TOOL_ARGUMENTS:
                delta({"type": "input_json_delta", "partial_json": piece})
            close_block()
            index += 1
        stop_reason = "tool_use"
    else:
        count, cut = _text_count(d, meta)
        if d.reasoning:
            open_block({"type": "thinking", "thinking": "", "signature": ""})
            for i in range(count):
                delta({"type": "thinking_delta", "thinking": f"r{i} "})
            pending.append(
                _event(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": _SIGNATURE},
                    }
                )
            )
            close_block()
            index += 1
        open_block({"type": "text", "text": ""})
        for text in continued_words(dataclasses.replace(d, chunks=count)):
            delta({"type": "text_delta", "text": text})
        close_block()
        if cut:
            stop_reason = "max_tokens"
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": len(content)},
    }
    tail = [b"".join([*pending, _event(message_delta)]), _event({"type": "message_stop"})]
    return content, tail


def body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A Message JSON body, and the number of chunks it stands for."""
    blocks: list[dict[str, Any]] = []
    if d.tools:
        for call in range(_tool_count(d)):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_mock{call}",
                    "name": _TOOL_NAME,
                    "input": _TOOL_INPUT,
                }
            )
        count, stop_reason = len(blocks) * (len(_TOOL_ARGUMENTS) + 1), "tool_use"
    else:
        words, cut = _text_count(d, meta)
        count = words
        if d.reasoning:
            thinking = "".join(f"r{i} " for i in range(words))
            blocks.append({"type": "thinking", "thinking": thinking, "signature": _SIGNATURE})
            count += words
        blocks.append({"type": "text", "text": "".join(f"w{i} " for i in range(words))})
        stop_reason = "max_tokens" if cut else "end_turn"
    answer = {
        "id": _message_id(meta),
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(meta, count),
    }
    return orjson.dumps(answer), count


def count_tokens_body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A count_tokens answer: `{"input_tokens": N}`."""
    return orjson.dumps({"input_tokens": meta.prompt_tokens}), 0
