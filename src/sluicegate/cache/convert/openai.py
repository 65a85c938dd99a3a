"""OpenAI chat completions and legacy completions: a stored JSON answer as the stream the
upstream would have sent, and a stored stream as the JSON answer.

    chat.completion            ─► per choice: role chunk, reasoning / content / refusal
                                  chunks (PIECE_CHARS each), per tool call a chunk with its
                                  id and name then its arguments in pieces, a finish chunk;
                                  the usage-only chunk set apart (sent only when asked)
    chat.completion.chunk ...  ─► translate.folds.fold_chat, as a chat.completion
    text_completion            ─► per choice: text chunks, a finish chunk; usage apart
    text_completion chunks     ─► the same fold, as a text_completion

Ids, `created`, `model` and `system_fingerprint` are the stored answer's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from ...providers.sse import DONE_FRAME
from ...translate.folds import fold_chat
from ..entry import Entry
from .frames import data_frame, objects, pieces

# Copied from the stored answer to every chunk (and back), after `id` and `object`.
_HEAD = ("created", "model", "system_fingerprint", "service_tier")
_REASONING = ("reasoning", "reasoning_content")
Parts = Callable[[dict[str, Any]], Iterator[dict[str, Any]]]


def _head(answer: dict[str, Any], kind: str) -> dict[str, Any]:
    head = {"id": answer.get("id"), "object": kind}
    head.update({key: answer[key] for key in _HEAD if key in answer})
    return head


def _usage_frame(head: dict[str, Any], usage: Any) -> bytes:
    if not isinstance(usage, dict):
        return b""
    return data_frame({**head, "choices": [], "usage": usage})


def _to_stream(entry: Entry, kind: str, choice_parts: Parts) -> Entry:
    """The stream of a stored answer: each choice's parts (`choice_parts`) a chunk each, the
    usage chunk set apart, `[DONE]`."""
    answer = orjson.loads(entry.body)
    head = _head(answer, kind)
    frames = [
        data_frame({**head, "choices": [part]})
        for choice in answer.get("choices") or ()
        for part in choice_parts(choice)
    ]
    usage = _usage_frame(head, answer.get("usage"))
    return Entry(True, b"".join(frames), usage, DONE_FRAME, entry.usage)


def _chat_parts(choice: dict[str, Any]) -> Iterator[dict[str, Any]]:
    index = choice.get("index", 0)

    def part(delta: dict[str, Any], finish: Any = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    message = choice.get("message") or {}
    content = message.get("content")
    role = message.get("role") or "assistant"
    yield part({"role": role, "content": "" if isinstance(content, str) else None})
    for key in _REASONING:
        for piece in pieces(message.get(key)):
            yield part({key: piece})
    for piece in pieces(content):
        yield part({"content": piece})
    for piece in pieces(message.get("refusal")):
        yield part({"refusal": piece})
    for number, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        opening = {"name": function.get("name"), "arguments": ""}
        first = {"index": number, "id": call.get("id"), "type": "function"}
        yield part({"tool_calls": [{**first, "function": opening}]})
        for piece in pieces(function.get("arguments")):
            yield part({"tool_calls": [{"index": number, "function": {"arguments": piece}}]})
    yield part({}, choice.get("finish_reason") or "stop")


def _completion_parts(choice: dict[str, Any]) -> Iterator[dict[str, Any]]:
    index = choice.get("index", 0)
    for piece in pieces(choice.get("text")):
        yield {"index": index, "text": piece, "logprobs": None, "finish_reason": None}
    finish = choice.get("finish_reason") or "stop"
    yield {"index": index, "text": "", "logprobs": None, "finish_reason": finish}


def chat_to_stream(entry: Entry) -> Entry:
    return _to_stream(entry, "chat.completion.chunk", _chat_parts)


def completion_to_stream(entry: Entry) -> Entry:
    return _to_stream(entry, "text_completion", _completion_parts)


def chat_from_stream(entry: Entry) -> Entry:
    head, folded, usage = _fold(entry)
    choices = []
    for choice in folded:
        message = {"role": choice["role"] or "assistant", "content": choice["content"]}
        for key in (*_REASONING, "refusal"):
            if choice[key] is not None:
                message[key] = choice[key]
        if choice["tool_calls"]:
            message["tool_calls"] = [
                {k: v for k, v in call.items() if k != "index"} for call in choice["tool_calls"]
            ]
        finish = {"logprobs": None, "finish_reason": choice["finish_reason"]}
        choices.append({"index": choice["index"], "message": message, **finish})
    answer = {**_head(head, "chat.completion"), "choices": choices, "usage": usage}
    return Entry(False, orjson.dumps(answer), usage=entry.usage)


def completion_from_stream(entry: Entry) -> Entry:
    head, folded, usage = _fold(entry)
    choices = [
        {
            "index": choice["index"],
            "text": choice["content"] or "",
            "logprobs": None,
            "finish_reason": choice["finish_reason"],
        }
        for choice in folded
    ]
    answer = {**_head(head, "text_completion"), "choices": choices, "usage": usage}
    return Entry(False, orjson.dumps(answer), usage=entry.usage)


def _fold(entry: Entry) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """The stored stream folded; its usage from the usage chunk set apart at store time (or
    the usage the gateway noted)."""
    head, choices, usage = fold_chat(objects(entry.body))
    for obj in objects(entry.usage_frame):
        usage = obj.get("usage") or usage
    return head, choices, usage if usage is not None else entry.usage
