"""Anthropic Messages (/v1/messages): a stored Message as the event stream Anthropic would have
sent, and a stored event stream as the Message.

    Message            ─► message_start (the Message with no content, no stop reason),
                          per content block: content_block_start (the block empty),
                          its deltas (text_delta, thinking_delta then signature_delta,
                          input_json_delta of a tool_use's input; PIECE_CHARS each; other
                          blocks whole in their start), content_block_stop; message_delta
                          (stop_reason, stop_sequence, usage), message_stop
    Messages events    ─► translate.folds.fold_messages, as a Message

The Message's id, model and usage are the stored ones.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...translate.folds import fold_messages
from ..entry import Entry
from .frames import named_frame, objects, pieces

_EMPTY = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}}
_TOOL_BLOCKS = ("tool_use", "server_tool_use")


def to_stream(entry: Entry) -> Entry:
    message = orjson.loads(entry.body)
    usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message.get("content") or ()):
        events.extend(_block_events(index, block))
    delta = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    events.append({"type": "message_delta", "delta": delta, "usage": usage})
    events.append({"type": "message_stop"})
    return Entry(True, b"".join(named_frame(event) for event in events), usage=entry.usage)


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        deltas = [{"type": "text_delta", "text": p} for p in pieces(block.get("text"))]
    elif kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block.get("thinking"))]
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind in _TOOL_BLOCKS:
        arguments = orjson.dumps(block.get("input") or {}).decode()
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(arguments)]
    opening = {**block, **_EMPTY.get(str(kind), {})}
    if kind in _TOOL_BLOCKS:
        opening["input"] = {}
    return [
        {"type": "content_block_start", "index": index, "content_block": opening},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def from_stream(entry: Entry) -> Entry:
    folded = fold_messages(objects(entry.body))
    message = {
        "id": folded["id"],
        "type": "message",
        "role": folded["role"] or "assistant",
        "model": folded["model"],
        "content": folded["content"],
        "stop_reason": folded["stop_reason"],
        "stop_sequence": folded["stop_sequence"],
        "usage": folded["usage"] or {},
    }
    return Entry(False, orjson.dumps(message), usage=entry.usage)
