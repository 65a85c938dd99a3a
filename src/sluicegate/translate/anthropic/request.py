"""Requests both ways: an OpenAI chat request as a Messages request, and the reverse.

Chat → Messages (the `anthropic` backend):

    system / developer messages ─► `system` (a string, or text blocks when any had parts)
    user parts text, image_url  ─► text blocks, image blocks (data URL → base64, else url)
    assistant tool_calls        ─► tool_use blocks (arguments parsed as JSON)
    tool messages               ─► tool_result blocks in one user turn (parallel results)
    max_completion_tokens, max_tokens, or DEFAULT_MAX_TOKENS ─► max_tokens
    stop ─► stop_sequences; tool_choice auto|none|required|named ─► auto|none|any|tool
    reasoning_effort or `thinking` ─► thinking {budget_tokens}

Fields with no Anthropic equivalent that change what the answer is (`n` > 1, `logprobs`,
`response_format` other than text, audio) are refused with a 400 that says so; sampling hints
Anthropic lacks (penalties, seed, logit_bias) are dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import InvalidRequest
from .common import ANSWER_ROOM, DEFAULT_MAX_TOKENS

THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}


# Chat → Messages --------------------------------------------------------------------------


def chat_to_messages(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The Messages request for a chat request; raises InvalidRequest for what cannot map."""
    _refuse_unmappable(body)
    system: list[dict[str, Any]] = []
    system_has_parts = False
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system_has_parts = system_has_parts or isinstance(content, list)
            system.extend(_text_blocks(content, index))
        elif role == "user":
            _append(turns, "user", _user_blocks(content, index))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message, index))
        elif role == "tool":
            _append(turns, "user", [_tool_result(message, index)])
        else:
            raise InvalidRequest(
                f"messages[{index}]: role '{role}' is not supported by anthropic backends.",
                param="messages",
            )
    out: dict[str, Any] = {"model": model, "messages": turns}
    if system:
        if system_has_parts:
            out["system"] = system
        else:
            out["system"] = "\n\n".join(block["text"] for block in system)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    thinking = _thinking(body)
    if thinking is not None:
        out["thinking"] = thinking
        budget = thinking.get("budget_tokens")
        if max_tokens is None and isinstance(budget, int):
            max_tokens = budget + ANSWER_ROOM
    out["max_tokens"] = max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = stop
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and (tools or choice["type"] == "none"):
        out["tool_choice"] = choice
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out


def _refuse_unmappable(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n not in (None, 1):
        raise InvalidRequest("anthropic backends answer one choice: 'n' must be 1.", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise InvalidRequest("anthropic backends do not return logprobs.", param="logprobs")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise InvalidRequest(
            f"response_format '{fmt.get('type')}' is not supported by anthropic backends.",
            param="response_format",
        )
    modalities = body.get("modalities")
    if body.get("audio") or (isinstance(modalities, list) and "audio" in modalities):
        raise InvalidRequest("anthropic backends do not produce audio.", param="modalities")


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Merge consecutive turns of one role: Anthropic wants user and assistant alternating,
    and parallel tool results in one user turn, before any text."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise InvalidRequest(f"messages[{index}].content must be a string or an array.")
    blocks = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise InvalidRequest(f"messages[{index}]: only text parts are allowed here.")
        blocks.append({"type": "text", "text": str(part.get("text", ""))})
    return blocks


def _user_blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_blocks(content, index)
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(image_block(url, index))
        else:
            raise InvalidRequest(
                f"messages[{index}]: content part '{kind}' is not supported by anthropic "
                "backends (text and image_url are).",
                param="messages",
            )
    return blocks


def image_block(url: Any, index: int) -> dict[str, Any]:
    """An image part's URL as an image block: a data URL inline, anything else by URL."""
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"messages[{index}]: image_url needs a url.", param="messages")
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise InvalidRequest(
                f"messages[{index}]: an image data URL must be data:<type>;base64,<data>.",
                param="messages",
            )
        source = {"type": "base64", "media_type": media_type, "data": data}
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _assistant_blocks(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    content = message.get("content")
    blocks: list[dict[str, Any]]
    if isinstance(content, list):
        blocks = [
            {"type": "text", "text": str(part.get("text", ""))}
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
    else:
        blocks = _text_blocks(content, index)
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise InvalidRequest(f"messages[{index}].tool_calls: each needs a function.")
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{index}",
                "name": function.get("name"),
                "input": _arguments(function.get("arguments"), index),
            }
        )
    return blocks


def _arguments(arguments: Any, index: int) -> Any:
    if arguments in (None, ""):
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        return orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidRequest(
            f"messages[{index}].tool_calls: arguments must be a JSON object.", param="messages"
        ) from exc


def _tool_result(message: dict[str, Any], index: int) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"messages[{index}]: a tool message needs tool_call_id.")
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if isinstance(content, list):
        result["content"] = _text_blocks(content, index)
    else:
        result["content"] = "" if content is None else str(content)
    return result


def _tool(tool: Any, index: int) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(tool, dict) or tool.get("type") != "function" or not function:
        raise InvalidRequest(
            f"tools[{index}]: only function tools are supported by anthropic backends.",
            param="tools",
        )
    out: dict[str, Any] = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice is None:
        out = None
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "none":
        out = {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise InvalidRequest("tool_choice must be auto, none, required or a function.")
    if parallel is False:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _thinking(body: dict[str, Any]) -> dict[str, Any] | None:
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        return thinking  # the Anthropic parameter itself, as LiteLLM accepts it
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        return {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
    return None


# Messages → chat --------------------------------------------------------------------------


def messages_to_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The chat request for a Messages request (the /v1/messages front door, other backends).

    Thinking is not asked of chat backends (no portable parameter); reasoning they return
    comes back as thinking blocks. `top_k` is dropped (not an OpenAI parameter).
    """
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        text = "\n\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
        messages.append({"role": "system", "content": text})
    for index, turn in enumerate(body.get("messages") or []):
        if turn.get("role") == "assistant":
            messages.append(_chat_assistant(turn.get("content"), index))
        else:
            messages.extend(_chat_user(turn.get("content"), index))
    out: dict[str, Any] = {"model": model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    tools = body.get("tools")
    if tools:
        out["tools"] = [_chat_tool(tool, i) for i, tool in enumerate(tools)]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            kind = choice.get("type")
            if kind == "any":
                out["tool_choice"] = "required"
            elif kind == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
            elif kind in ("auto", "none"):
                out["tool_choice"] = kind
            if choice.get("disable_parallel_tool_use") is True:
                out["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _chat_user(content: Any, index: int) -> list[dict[str, Any]]:
    """One user turn: its tool results as tool messages first, then the rest as one message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, index)}})
        elif kind == "tool_result":
            result = block.get("content")
            text = result if isinstance(result, str) else _joined_text(result)
            if block.get("is_error"):
                text = f"Error: {text}"
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        else:
            raise InvalidRequest(
                f"messages[{index}]: content block '{kind}' cannot be sent to this model "
                "(text, image and tool_result can).",
                param="messages",
            )
    if parts:
        if all(p["type"] == "text" for p in parts):
            out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _image_url(block: dict[str, Any], index: int) -> str:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if source.get("type") == "url":
        return str(source.get("url"))
    raise InvalidRequest(f"messages[{index}]: image source must be base64 or url.")


def _joined_text(blocks: Any) -> str:
    if not isinstance(blocks, list):
        return ""
    return "\n".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )


def _chat_assistant(content: Any, index: int) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        # thinking blocks are the model's own, with signatures only Anthropic can check
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _chat_tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise InvalidRequest(
            f"tools[{index}]: server tool '{kind}' runs only on Anthropic's API; "
            "this model is served by another provider.",
            param="tools",
        )
    function: dict[str, Any] = {
        "name": tool.get("name"),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}
