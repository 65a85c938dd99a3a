"""Streams both ways, as small state machines fed one event at a time (no I/O).

Anthropic events → chat chunks (`EventsToChunks`, the `anthropic` backend):

    message_start              ─► {"delta": {"role": "assistant", "content": ""}}
    content_block_start tool   ─► tool_calls[{index: k, id, type, function: {name, ""}}]
    text_delta                 ─► {"content": text}
    thinking_delta             ─► {"reasoning_content": thinking}
    input_json_delta           ─► tool_calls[{index: k, function: {arguments: piece}}]
    message_delta              ─► finish chunk, then the usage-only chunk (`choices: []`)
    message_stop               ─► (end)        ping, signature_delta, *_stop ─► nothing

Chat chunks → Anthropic events (`ChunksToEvents`, /v1/messages served by other backends):

    first chunk        ─► message_start
    reasoning          ─► content_block_start thinking, thinking_delta ...
    content            ─► content_block_start text, text_delta ...
    tool_calls[k]      ─► content_block_start tool_use, input_json_delta ...
                          (a new block closes the open one with content_block_stop)
    clean end          ─► content_block_stop, message_delta (stop_reason, usage), message_stop

message_delta waits for the clean end because OpenAI sends the usage after the finish chunk.
"""

from __future__ import annotations

import time
from typing import Any

from .common import chat_usage, finish_reason, messages_usage, stop_reason
from .response import message_id


class EventsToChunks:
    """Anthropic stream events in, OpenAI chat chunks out."""

    __slots__ = ("_base", "_tools", "_usage", "done")

    def __init__(self) -> None:
        self._base: dict[str, Any] = {"id": None, "object": "chat.completion.chunk"}
        self._tools: dict[int, int] = {}  # content block index → tool call index
        self._usage: dict[str, Any] = {}
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._base, "choices": [choice]}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if dtype == "thinking_delta":
                return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
            if dtype == "input_json_delta":
                tool = self._tools.get(event.get("index", -1))
                if tool is None or not delta.get("partial_json"):
                    return []
                call = {"index": tool, "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                tool = len(self._tools)
                self._tools[event.get("index", tool)] = tool
                call = {
                    "index": tool,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "message_start":
            message = event.get("message") or {}
            self._base = {
                "id": message.get("id"),
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": message.get("model"),
            }
            if isinstance(message.get("usage"), dict):
                self._usage.update(message["usage"])
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "message_delta":
            usage = event.get("usage")
            if isinstance(usage, dict):
                self._usage.update({k: v for k, v in usage.items() if v is not None})
            finish = finish_reason((event.get("delta") or {}).get("stop_reason")) or "stop"
            usage_chunk = {**self._base, "choices": [], "usage": chat_usage(self._usage)}
            return [self._chunk({}, finish), usage_chunk]
        if kind == "message_stop":
            self.done = True
        return []


class ChunksToEvents:
    """OpenAI chat chunks in, Anthropic stream events out."""

    __slots__ = ("_blocks", "_finish", "_model", "_open", "_started", "_tools", "usage")

    def __init__(self, model: str | None) -> None:
        self._model = model
        self._started = False
        self._blocks = 0  # content blocks opened so far
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open block
        self._tools: dict[int, int] = {}  # tool call index → block index
        self._finish: str | None = None
        self.usage: dict[str, Any] | None = None

    @property
    def started(self) -> bool:
        return self._started

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self._started:
            self._started = True
            message: dict[str, Any] = {
                "id": message_id(chunk.get("id")),
                "type": "message",
                "role": "assistant",
                "model": self._model or chunk.get("model"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            events.append({"type": "message_start", "message": message})
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # Messages has one answer; n > 1 cannot be asked from this door
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                index = self._block(events, "thinking")
                piece = {"type": "thinking_delta", "thinking": reasoning}
                events.append({"type": "content_block_delta", "index": index, "delta": piece})
            content = delta.get("content")
            if isinstance(content, str) and content:
                index = self._block(events, "text")
                piece = {"type": "text_delta", "text": content}
                events.append({"type": "content_block_delta", "index": index, "delta": piece})
            for call in delta.get("tool_calls") or ():
                self._tool_delta(events, call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def _block(self, events: list[dict[str, Any]], kind: str) -> int:
        if self._open is not None and self._open[0] == kind:
            return self._open[1]
        self._close(events)
        index = self._blocks
        self._blocks += 1
        self._open = (kind, index)
        block: dict[str, Any] = (
            {"type": "text", "text": ""}
            if kind == "text"
            else {"type": "thinking", "thinking": "", "signature": ""}
        )
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        return index

    def _tool_delta(self, events: list[dict[str, Any]], call: Any) -> None:
        if not isinstance(call, dict):
            return
        tool = call.get("index", 0)
        function = call.get("function") or {}
        index = self._tools.get(tool)
        if index is None:
            self._close(events)
            index = self._blocks
            self._blocks += 1
            self._tools[tool] = index
            self._open = ("tool", index)
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{index}",
                "name": function.get("name"),
                "input": {},
            }
            events.append({"type": "content_block_start", "index": index, "content_block": block})
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            piece = {"type": "input_json_delta", "partial_json": arguments}
            events.append({"type": "content_block_delta", "index": index, "delta": piece})

    def _close(self, events: list[dict[str, Any]]) -> None:
        if self._open is not None:
            events.append({"type": "content_block_stop", "index": self._open[1]})
            self._open = None

    def finish(self) -> list[dict[str, Any]]:
        """The closing events after a clean end of the chat stream."""
        events: list[dict[str, Any]] = []
        self._close(events)
        usage = messages_usage(self.usage)
        delta = {"stop_reason": stop_reason(self._finish) or "end_turn", "stop_sequence": None}
        events.append({"type": "message_delta", "delta": delta, "usage": usage})
        events.append({"type": "message_stop"})
        return events
