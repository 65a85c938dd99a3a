"""A chat.completion as a Response object (its first choice), and the pieces streams share.

    message.content            ─► a `message` output item with one `output_text` part
    message.reasoning_content  ─► a `reasoning` output item (`reasoning_text` content), first
    message.tool_calls         ─► one `function_call` output item per call (`fc_` + call id)
    finish_reason length       ─► status "incomplete", incomplete_details max_output_tokens
    finish_reason content_filter ► status "incomplete", incomplete_details content_filter
    usage                      ─► input_tokens, output_tokens, total_tokens and their details

Fields the chat answer does not carry (`tools`, `tool_choice`, ...) get the API's defaults.
"""

from __future__ import annotations

import time
from typing import Any

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_id(chat_id: Any) -> str:
    """A Response id (`resp_...`) that keeps the upstream's id visible."""
    return f"resp_{chat_id}" if chat_id else "resp_sluicegate"


def responses_usage(usage: Any) -> dict[str, Any] | None:
    """Chat usage in the Responses shape."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int(prompt_details.get("cached_tokens") or 0),
            "cache_write_tokens": int(prompt_details.get("cache_write_tokens") or 0),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": int(completion_details.get("reasoning_tokens") or 0)
        },
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def chat_usage(usage: Any) -> dict[str, Any] | None:
    """Responses usage in the chat shape (what the gateway logs and charges)."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def response_object(
    rid: str,
    model: Any,
    created: Any,
    output: list[dict[str, Any]],
    status: str,
    finish: str | None = None,
    usage: Any = None,
) -> dict[str, Any]:
    """The Response object around `output`; `finish` is the chat finish_reason."""
    reason = _INCOMPLETE.get(finish or "")
    if status == "completed" and reason is not None:
        status = "incomplete"
    return {
        "id": rid,
        "object": "response",
        "created_at": created if isinstance(created, int) else int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "temperature": None,
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "text": {"format": {"type": "text"}},
        "reasoning": {"effort": None, "summary": None},
        "truncation": "disabled",
        "usage": responses_usage(usage),
        "metadata": {},
        "store": False,
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part] if status != "in_progress" else [],
    }


def reasoning_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "reasoning_text", "text": text}] if status != "in_progress" else []
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content}


def call_item(call: dict[str, Any], arguments: str, status: str = "completed") -> dict[str, Any]:
    call_id = call.get("id") or "call_sluicegate"
    function = call.get("function") or {}
    return {
        "id": f"fc_{call_id}",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": function.get("name"),
        "arguments": arguments,
    }


def chat_to_response(completion: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """The Response object for a chat.completion."""
    rid = response_id(completion.get("id"))
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    reasoning = reply.get("reasoning_content") or reply.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(f"rs_{rid[5:]}", reasoning))
    text = reply.get("content")
    if isinstance(text, str) and text:
        output.append(message_item(f"msg_{rid[5:]}", text))
    for call in reply.get("tool_calls") or []:
        if isinstance(call, dict):
            arguments = (call.get("function") or {}).get("arguments")
            output.append(call_item(call, arguments if isinstance(arguments, str) else "{}"))
    return response_object(
        rid,
        completion.get("model") or model,
        completion.get("created"),
        output,
        "completed",
        choice.get("finish_reason"),
        completion.get("usage"),
    )
