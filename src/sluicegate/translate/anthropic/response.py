"""Whole answers both ways: an Anthropic Message as a chat.completion, and the reverse.

text blocks      ↔ message.content (joined)
thinking blocks  ↔ message.reasoning_content
tool_use blocks  ↔ message.tool_calls (input ↔ arguments as JSON text)
stop_reason      ↔ finish_reason (common.STOP_TO_FINISH)
usage            ↔ usage (cache reads as prompt_tokens_details.cached_tokens)
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .common import chat_usage, finish_reason, messages_usage, stop_reason


def message_to_chat(message: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion for an Anthropic Message."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if calls:
        reply["tool_calls"] = calls
    usage = message.get("usage")
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": finish_reason(message.get("stop_reason")) or "stop",
            }
        ],
        "usage": chat_usage(usage if isinstance(usage, dict) else {}),
    }


def message_id(chat_id: Any) -> str:
    """A Message id (`msg_...`) that keeps the upstream's id visible."""
    return f"msg_{chat_id}" if chat_id else "msg_sluicegate"


def chat_to_message(completion: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """An Anthropic Message for a chat.completion (its first choice)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = reply.get("reasoning_content") or reply.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = reply.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {"_raw": function.get("arguments")}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments,
            }
        )
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") or model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")) or "end_turn",
        "stop_sequence": None,
        "usage": messages_usage(completion.get("usage")),
    }
