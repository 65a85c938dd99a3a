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
    """Fold OpenAI chat (or legacy completion) chunks into the compact document."""
    head: dict[str, Any] = {}
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        for key in ("id", "model", "created"):
            if key not in head and chunk.get(key) is not None:
                head[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                _fold_choice(choices, choice)
    return {
        "format": COMPACT_FORMAT,
        "id": head.get("id"),
        "model": head.get("model"),
        "created": head.get("created"),
        "choices": [_finish_choice(choices[i]) for i in sorted(choices)],
        "usage": usage,
        "stream": {"done": done, "chunks": len(chunks)},
    }


def _fold_choice(choices: dict[int, dict[str, Any]], choice: dict[str, Any]) -> None:
    index = choice.get("index", 0) if isinstance(choice.get("index"), int) else 0
    state = choices.setdefault(
        index,
        {
            "index": index,
            "role": None,
            "content": [],
            "reasoning": [],
            "tools": {},
            "finish_reason": None,
        },
    )
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        delta = {"content": choice.get("text")} if "text" in choice else {}
    if delta.get("role"):
        state["role"] = delta["role"]
    if isinstance(delta.get("content"), str):
        state["content"].append(delta["content"])
    reasoning = delta.get("reasoning")
    if not isinstance(reasoning, str):
        reasoning = delta.get("reasoning_content")
    if isinstance(reasoning, str):
        state["reasoning"].append(reasoning)
    for call in delta.get("tool_calls") or []:
        if isinstance(call, dict):
            _fold_tool_call(state["tools"], call)
    if choice.get("finish_reason"):
        state["finish_reason"] = choice["finish_reason"]


def _fold_tool_call(tools: dict[int, dict[str, Any]], call: dict[str, Any]) -> None:
    index = call.get("index", len(tools)) if isinstance(call.get("index"), int) else len(tools)
    entry = tools.setdefault(
        index,
        {
            "index": index,
            "id": None,
            "type": "function",
            "function": {"name": None, "arguments": []},
        },
    )
    if call.get("id"):
        entry["id"] = call["id"]
    if call.get("type"):
        entry["type"] = call["type"]
    function = call.get("function")
    if isinstance(function, dict):
        if function.get("name"):
            entry["function"]["name"] = function["name"]
        if isinstance(function.get("arguments"), str):
            entry["function"]["arguments"].append(function["arguments"])


def _finish_choice(state: dict[str, Any]) -> dict[str, Any]:
    tools = [
        {
            **call,
            "function": {**call["function"], "arguments": "".join(call["function"]["arguments"])},
        }
        for _, call in sorted(state["tools"].items())
    ]
    return {
        "index": state["index"],
        "role": state["role"],
        "content": "".join(state["content"]) if state["content"] else None,
        "reasoning": "".join(state["reasoning"]) if state["reasoning"] else None,
        "tool_calls": tools or None,
        "finish_reason": state["finish_reason"],
    }


MESSAGES_COMPACT_FORMAT = "sluicegate.messages_stream.compact.v1"


def compact_messages(events: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """Fold Anthropic Messages stream events (as sent on /v1/messages) into one document:
    the Message they build (content blocks with their deltas joined, a tool_use block's
    `input` parsed from its joined JSON, or left as the text if it does not parse), the
    stop reason, the usage of message_start and message_delta merged, and the stream state."""
    head: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    stop: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            head = {key: message.get(key) for key in ("id", "model", "role")}
            if isinstance(message.get("usage"), dict):
                usage.update(message["usage"])
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            block = dict(event["content_block"])
            if block.get("type") == "tool_use":
                block["input"] = []
            blocks[event.get("index", len(blocks))] = block
        elif kind == "content_block_delta":
            _fold_block_delta(blocks.get(event.get("index", -1)), event.get("delta") or {})
        elif kind == "message_delta":
            if isinstance(event.get("delta"), dict):
                stop = event["delta"]
            if isinstance(event.get("usage"), dict):
                usage.update({k: v for k, v in event["usage"].items() if v is not None})
    return {
        "format": MESSAGES_COMPACT_FORMAT,
        "id": head.get("id"),
        "model": head.get("model"),
        "role": head.get("role"),
        "content": [_finish_block(blocks[i]) for i in sorted(blocks)],
        "stop_reason": stop.get("stop_reason"),
        "stop_sequence": stop.get("stop_sequence"),
        "usage": usage or None,
        "stream": {"done": done, "events": len(events)},
    }


def _fold_block_delta(block: dict[str, Any] | None, delta: dict[str, Any]) -> None:
    if block is None:
        return
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = str(block.get("text") or "") + str(delta.get("text", ""))
    elif kind == "thinking_delta":
        block["thinking"] = str(block.get("thinking") or "") + str(delta.get("thinking", ""))
    elif kind == "signature_delta":
        block["signature"] = delta.get("signature")
    elif kind == "input_json_delta" and isinstance(block.get("input"), list):
        block["input"].append(str(delta.get("partial_json", "")))


def _finish_block(block: dict[str, Any]) -> dict[str, Any]:
    if isinstance(block.get("input"), list):
        text = "".join(block["input"])
        try:
            block["input"] = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            block["input"] = text
    return block


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
