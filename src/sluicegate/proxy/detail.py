"""Detail logging: the request and response bodies of users with `detail_logging`, as text.

Streams are kept either as the raw SSE text sent to the client (`raw`) or folded into one JSON
document (`compact`, SPEC 6): per choice the joined content, reasoning and tool calls (arguments
joined), the finish reason, the usage and whether the stream ended cleanly. Bodies longer than
`MAX_BODY_CHARS` are cut with a marker saying how much was dropped. Nothing here runs for users
without detail logging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..providers.base import Chunk
from ..translate.folds import fold_chat, fold_messages

MAX_BODY_CHARS = 256 * 1024
COMPACT_FORMAT = "sluicegate.chat_stream.compact.v1"


def capped(text: str, limit: int = MAX_BODY_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[sluicegate: truncated, {len(text) - limit} more characters]"


def body_text(data: bytes) -> str:
    return capped(data.decode("utf-8", "replace"))


Fold = Callable[[list[dict[str, Any]], bool], dict[str, Any]]


class StreamCapture:
    """Collects what a stream sent, for one detail-logged request; `fold` makes the compact
    document of the endpoint's stream format (`compact` for OpenAI chunks)."""

    __slots__ = ("_chunks", "_fold", "_mode", "_raw")

    def __init__(self, mode: str, fold: Fold | None = None) -> None:
        self._mode = mode
        self._fold = fold or compact
        self._raw: list[bytes] = []
        self._chunks: list[dict[str, Any]] = []

    def add(self, chunks: list[Chunk], sent: bytes) -> None:
        if self._mode == "raw":
            self._raw.append(sent)
        else:
            self._chunks.extend(chunk.obj for chunk in chunks)

    def add_objects(self, objects: list[dict[str, Any]], sent: bytes) -> None:
        """Events the endpoint made itself (a translated stream), and their bytes."""
        if self._mode == "raw":
            self._raw.append(sent)
        else:
            self._chunks.extend(objects)

    def add_frame(self, sent: bytes) -> None:
        """A frame the gateway wrote itself ([DONE], an error event, a keep-alive)."""
        if self._mode == "raw":
            self._raw.append(sent)

    def text(self, done: bool) -> str:
        if self._mode == "raw":
            return capped(b"".join(self._raw).decode("utf-8", "replace"))
        return capped(orjson.dumps(self._fold(self._chunks, done)).decode())


def compact(chunks: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """Fold OpenAI chat (or legacy completion) chunks into the compact document: one
    `reasoning` per choice (`reasoning`, or else `reasoning_content`)."""
    head, choices, usage = fold_chat(chunks)
    return {
        "format": COMPACT_FORMAT,
        "id": head.get("id"),
        "model": head.get("model"),
        "created": head.get("created"),
        "choices": [_compact_choice(choice) for choice in choices],
        "usage": usage,
        "stream": {"done": done, "chunks": len(chunks)},
    }


def _compact_choice(choice: dict[str, Any]) -> dict[str, Any]:
    del choice["refusal"]
    reasoning = choice.pop("reasoning_content")
    if choice["reasoning"] is None:
        choice["reasoning"] = reasoning
    return choice


MESSAGES_COMPACT_FORMAT = "sluicegate.messages_stream.compact.v1"


def compact_messages(events: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """Fold Anthropic Messages stream events (as sent on /v1/messages) into one document:
    the Message they build (`translate.folds.fold_messages`) and the stream state."""
    return {
        "format": MESSAGES_COMPACT_FORMAT,
        **fold_messages(events),
        "stream": {"done": done, "events": len(events)},
    }


RESPONSES_COMPACT_FORMAT = "sluicegate.responses_stream.compact.v1"
_TEXT_DELTAS = {
    "response.output_text.delta": "text",
    "response.reasoning_text.delta": "text",
    "response.function_call_arguments.delta": "arguments",
}
_FINAL = ("response.completed", "response.incomplete", "response.failed")


def compact_responses(events: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """Fold Responses stream events (as sent on /v1/responses) into one document: the output
    items they build (text and arguments deltas joined; the final response's items when the
    stream got that far), the status, usage and error of the final event, and the stream
    state."""
    head: dict[str, Any] = {}
    items: dict[int, dict[str, Any]] = {}
    final: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        response = event.get("response")
        if kind == "response.created" and isinstance(response, dict):
            head = {key: response.get(key) for key in ("id", "model", "created_at")}
        elif kind in _FINAL and isinstance(response, dict):
            final = response
        elif kind in ("response.output_item.added", "response.output_item.done"):
            if isinstance(event.get("item"), dict):
                items[event.get("output_index", len(items))] = dict(event["item"])
        elif kind in _TEXT_DELTAS:
            item = items.get(event.get("output_index", -1))
            if item is not None:
                key = "_" + _TEXT_DELTAS[kind]
                item[key] = str(item.get(key, "")) + str(event.get("delta", ""))
    output = final.get("output") if isinstance(final.get("output"), list) else None
    if output is None:
        output = [_partial_item(items[i]) for i in sorted(items)]
    return {
        "format": RESPONSES_COMPACT_FORMAT,
        "id": head.get("id") or final.get("id"),
        "model": head.get("model") or final.get("model"),
        "created_at": head.get("created_at"),
        "status": final.get("status", "in_progress"),
        "output": output,
        "usage": final.get("usage"),
        "error": final.get("error"),
        "stream": {"done": done, "events": len(events)},
    }


def _partial_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item the stream never finished: its deltas joined where the item shows them."""
    text = item.pop("_text", None)
    arguments = item.pop("_arguments", None)
    if arguments is not None:
        item["arguments"] = arguments
    if text is not None:
        kind = "output_text" if item.get("type") == "message" else "reasoning_text"
        item["content"] = [{"type": kind, "text": text}]
    return item
