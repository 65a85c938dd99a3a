"""A Responses request as a chat request. What maps:

    instructions                        ─► a first system message
    input (string)                      ─► one user message
    message items (input_text,          ─► messages (text parts, image_url parts; an
      input_image, output_text parts)      assistant's parts joined as its text)
    function_call items                 ─► an assistant message's tool_calls (consecutive
                                           calls, and the assistant text before them, merged)
    function_call_output items          ─► tool messages
    reasoning items                     ─► dropped (chat has no field to replay them)
    tools (flat function tools)         ─► chat tools {"type": "function", "function": {...}}
    tool_choice, text.format, reasoning.effort, max_output_tokens, temperature, top_p,
    parallel_tool_calls, user           ─► their chat names

What needs OpenAI's stored state or its hosted tools cannot be served by a chat backend and is
refused with InvalidRequest (400) saying why: previous_response_id, conversation, background,
item_reference items, file ids, and built-in tools (web_search, file_search, ...).
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest

_STATELESS = (
    " This gateway translates /v1/responses to chat completions for this model and keeps no"
    " state between requests; send the whole conversation in 'input' instead."
)

_COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "top_logprobs")


def responses_to_chat(request: dict[str, Any], model: str) -> dict[str, Any]:
    """The chat request for a Responses request; raises InvalidRequest for what cannot map."""
    _refuse_stored_state(request)
    messages: list[dict[str, Any]] = []
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    source = request.get("input")
    if isinstance(source, str):
        messages.append({"role": "user", "content": source})
    elif isinstance(source, list):
        for index, item in enumerate(source):
            _add_item(messages, item, index)
    chat: dict[str, Any] = {"model": model, "messages": messages}
    for key in _COPIED:
        if request.get(key) is not None:
            chat[key] = request[key]
    if request.get("top_logprobs") is not None:
        chat["logprobs"] = True
    if request.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = request["max_output_tokens"]
    tools = request.get("tools")
    if isinstance(tools, list) and tools:
        chat["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    if request.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(request["tool_choice"])
    fmt = _response_format(request.get("text"))
    if fmt is not None:
        chat["response_format"] = fmt
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    if request.get("stream") is True:
        chat["stream"] = True
    return chat


def _refuse_stored_state(request: dict[str, Any]) -> None:
    if request.get("previous_response_id") is not None:
        raise InvalidRequest(
            "'previous_response_id' refers to a response stored by the server." + _STATELESS,
            param="previous_response_id",
        )
    if request.get("conversation") is not None:
        raise InvalidRequest(
            "'conversation' refers to a conversation stored by the server." + _STATELESS,
            param="conversation",
        )
    if request.get("background") is True:
        raise InvalidRequest(
            "'background' responses are stored and polled later." + _STATELESS,
            param="background",
        )


# input items ---------------------------------------------------------------------------------


def _add_item(messages: list[dict[str, Any]], item: Any, index: int) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"input[{index}]: each item must be an object.", param="input")
    kind = item.get("type", "message")
    if kind == "message":
        messages.append(_message(item, index))
    elif kind == "function_call":
        call = {
            "id": item.get("call_id"),
            "type": "function",
            "function": {"name": item.get("name"), "arguments": item.get("arguments") or ""},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        content = output if isinstance(output, str) else _joined_text(output)
        messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": content})
    elif kind == "reasoning":
        return  # chat cannot replay reasoning; the model answers without it
    elif kind == "item_reference":
        raise InvalidRequest(
            f"input[{index}]: 'item_reference' refers to an item stored by the server."
            + _STATELESS,
            param="input",
        )
    else:
        raise InvalidRequest(
            f"input[{index}]: items of type '{kind}' belong to built-in tools, which this"
            " model's backend does not run (only function tools are translated to chat).",
            param="input",
        )


def _message(item: dict[str, Any], index: int) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"input[{index}].role: must be 'user', 'assistant', 'system' or 'developer'.",
            param="input",
        )
    role = "system" if role == "developer" else role  # not every chat backend knows 'developer'
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(
            f"input[{index}].content: must be a string or an array.", param="input"
        )
    if role != "user":
        return {"role": role, "content": _joined_text(content)}
    return {"role": role, "content": [_part(part, index) for part in content]}


def _part(part: Any, index: int) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_image":
        raise InvalidRequest(
            f"input[{index}]: an input_image by 'file_id' refers to a file stored by the"
            " server; send 'image_url' (a URL or a data: URL) instead.",
            param="input",
        )
    raise InvalidRequest(
        f"input[{index}]: content parts of type '{kind}' cannot be translated to chat.",
        param="input",
    )


def _joined_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return "" if parts is None else str(parts)
    texts = [p.get("text", "") for p in parts if isinstance(p, dict) and "text" in p]
    return "".join(str(text) for text in texts)


# tools and formats ---------------------------------------------------------------------------


def _tool(tool: Any, index: int) -> dict[str, Any]:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind != "function":
        raise InvalidRequest(
            f"tools[{index}]: built-in tool '{kind}' runs on OpenAI's servers; this model's"
            " backend gets /v1/responses translated to chat completions, which only carry"
            " function tools.",
            param="tools",
        )
    function = {key: tool[key] for key in ("name", "description", "parameters") if key in tool}
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return choice.get("mode", "auto")
    kind = choice.get("type") if isinstance(choice, dict) else type(choice).__name__
    raise InvalidRequest(
        f"tool_choice: '{kind}' names a built-in tool, which chat backends do not run.",
        param="tool_choice",
    )


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    if kind == "json_object":
        return {"type": "json_object"}
    return None
