"""Stream folds: the events of an OpenAI chat (or legacy completion) stream and of an Anthropic
Messages stream joined back into the whole answer they spell, as pure functions.

    chat chunks       ─► per choice: role, content (or legacy `text`), reasoning and
                         reasoning_content kept apart, refusal, tool calls (arguments
                         joined), finish_reason; the first id/model/created; the last usage
    Messages events   ─► the Message: content blocks with their deltas joined (a tool_use
                         block's `input` parsed from its joined JSON, or left as the text if it
                         does not parse), stop reason, usage of message_start and
                         message_delta merged

Two readers share them: detail logging's compact documents (`proxy/detail.py`), and the
response cache answering a non-stream request from a stored stream (`cache/convert/`). A
fold never fails on odd input: what it does not recognise it leaves out.
"""

from __future__ import annotations

from typing import Any

import orjson

_HEAD = ("id", "model", "created", "system_fingerprint")
# Text fields of a delta joined as they are, each on its own.
_TEXTS = ("reasoning", "reasoning_content", "refusal")


def fold_chat(chunks: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """(head, choices, usage) of chat or legacy completion chunks: `head` the first non-null
    id, model, created and system_fingerprint; choices in index order."""
    head: dict[str, Any] = {}
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        for key in _HEAD:
            if key not in head and chunk.get(key) is not None:
                head[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                _fold_choice(choices, choice)
    return head, [_finish_choice(choices[i]) for i in sorted(choices)], usage


def _fold_choice(choices: dict[int, dict[str, Any]], choice: dict[str, Any]) -> None:
    index = choice.get("index", 0) if isinstance(choice.get("index"), int) else 0
    state = choices.get(index)
    if state is None:
        state = choices[index] = {
            "index": index,
            "role": None,
            "content": [],
            "reasoning": [],
            "reasoning_content": [],
            "refusal": [],
            "tools": {},
            "finish_reason": None,
        }
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        delta = {"content": choice.get("text")} if "text" in choice else {}
    if delta.get("role"):
        state["role"] = delta["role"]
    if isinstance(delta.get("content"), str):
        state["content"].append(delta["content"])
    for key in _TEXTS:
        text = delta.get(key)
        if isinstance(text, str):
            state[key].append(text)
    for call in delta.get("tool_calls") or []:
        if isinstance(call, dict):
            _fold_tool_call(state["tools"], call)
    if choice.get("finish_reason"):
        state["finish_reason"] = choice["finish_reason"]


def _fold_tool_call(tools: dict[int, dict[str, Any]], call: dict[str, Any]) -> None:
    index = call.get("index", len(tools)) if isinstance(call.get("index"), int) else len(tools)
    entry = tools.get(index)
    if entry is None:
        entry = tools[index] = {
            "index": index,
            "id": None,
            "type": "function",
            "function": {"name": None, "arguments": []},
        }
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
        **{key: "".join(state[key]) if state[key] else None for key in _TEXTS},
        "tool_calls": tools or None,
        "finish_reason": state["finish_reason"],
    }


def fold_messages(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The Message that Anthropic stream events build (id, model, role, content, stop_reason,
    stop_sequence, usage; None where the stream did not say)."""
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
            if block.get("type") in _TOOL_BLOCKS:
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
        "id": head.get("id"),
        "model": head.get("model"),
        "role": head.get("role"),
        "content": [_finish_block(blocks[i]) for i in sorted(blocks)],
        "stop_reason": stop.get("stop_reason"),
        "stop_sequence": stop.get("stop_sequence"),
        "usage": usage or None,
    }


_TOOL_BLOCKS = ("tool_use", "server_tool_use")


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
