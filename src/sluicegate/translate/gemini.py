"""OpenAI chat ↔ Gemini `generateContent`: request, whole response and stream events, no I/O.

    chat request ──request_to_gemini()──► {contents, systemInstruction, tools, toolConfig,
                                           generationConfig}
    GenerateContentResponse ──response_to_chat()──► chat.completion
    SSE events ──StreamTranslator.feed()──► chat.completion.chunk objects ──usage_chunk()

Gemini names no tool call, so ids are made here (`call_<hex>`). A function call's
`thoughtSignature` (which Gemini 3 requires back on the next turn) rides in its id after
`__thought__`: every client echoes tool call ids verbatim, so it comes back without any client
knowing of it (see docs/decisions.md). Everything the chat shape cannot say to Gemini raises
`InvalidRequest` naming the field, so a client learns at once instead of getting a quietly
different answer.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import InvalidRequest

THOUGHT_SEPARATOR = "__thought__"

# OpenAI `reasoning_effort` → Gemini `thinkingBudget` (tokens), as Google's own OpenAI layer.
_THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "JAILBREAK": "content_filter",
}

NewId = Callable[[], str]


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


# Request ----------------------------------------------------------------------------------


def request_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """The `generateContent` body for an OpenAI chat body (the model goes in the URL)."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), f"messages[{i}].content"))
        elif role == "user":
            parts = _parts(message.get("content"), f"messages[{i}].content")
            contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            parts = _assistant_parts(message, i, call_names)
            if parts:
                contents.append({"role": "model", "parts": parts})
        elif role in ("tool", "function"):
            part = _function_response(message, i, call_names)
            last = contents[-1] if contents else None
            # Answers to parallel calls go back together, in one user turn.
            if (
                last is not None
                and last["role"] == "user"
                and "functionResponse" in last["parts"][0]
            ):
                last["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
        else:
            raise InvalidRequest(f"Unknown message role {role!r}.", param=f"messages[{i}].role")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        out["tools"] = [{"functionDeclarations": [_declaration(t, i) for i, t in enumerate(tools)]}]
    tool_choice = body.get("tool_choice")
    if tool_choice is not None:
        out["toolConfig"] = {"functionCallingConfig": _calling_config(tool_choice)}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


def _parts(content: Any, param: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise InvalidRequest("Message content must be a string or an array of parts.", param=param)
    return [_part(part, f"{param}[{j}]") for j, part in enumerate(content)]


def _part(part: Any, param: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"text": str(part.get("text", ""))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _media(url, param)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        fmt = str(audio.get("format") or "wav")
        return {"inlineData": {"mimeType": f"audio/{fmt}", "data": audio.get("data", "")}}
    if kind == "file":
        file = part.get("file") or {}
        if isinstance(file.get("file_data"), str):
            return _media(file["file_data"], param)
        raise InvalidRequest("Gemini backends take files as data URLs only.", param=param)
    raise InvalidRequest(f"Content part type {kind!r} is not supported by Gemini.", param=param)


def _media(url: Any, param: str) -> dict[str, Any]:
    """A data URL → inlineData; an http(s) or gs:// URL → fileData (fetched by Google)."""
    if not isinstance(url, str) or not url:
        raise InvalidRequest("An image part needs a URL.", param=param)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if not sep or encoding != "base64":
            raise InvalidRequest("Data URLs must be base64 encoded.", param=param)
        return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": data}}
    if url.startswith(("http://", "https://", "gs://")):
        file_data = {"fileUri": url}
        guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
        if guessed:
            file_data = {"mimeType": guessed, "fileUri": url}
        return {"fileData": file_data}
    raise InvalidRequest("Image URLs must be data:, http(s): or gs: URLs.", param=param)


def _assistant_parts(
    message: dict[str, Any], i: int, call_names: dict[str, str]
) -> list[dict[str, Any]]:
    content = message.get("content")
    parts = _parts(content, f"messages[{i}].content") if content else []
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        name = function.get("name")
        if not isinstance(name, str):
            raise InvalidRequest("A tool call needs a function name.", param=f"messages[{i}]")
        call_id = str(call.get("id") or "")
        call_names[call_id] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": _args(function, i, j)}}
        _, sep, signature = call_id.partition(THOUGHT_SEPARATOR)
        if sep and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _args(function: dict[str, Any], i: int, j: int) -> dict[str, Any]:
    raw = function.get("arguments") or "{}"
    try:
        args = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise InvalidRequest(
            "Tool call arguments must be a JSON object for Gemini.",
            param=f"messages[{i}].tool_calls[{j}].function.arguments",
        )
    return args


def _function_response(
    message: dict[str, Any], i: int, call_names: dict[str, str]
) -> dict[str, Any]:
    name = message.get("name")
    if message.get("role") == "tool":
        name = call_names.get(str(message.get("tool_call_id") or ""), name)
    if not isinstance(name, str) or not name:
        raise InvalidRequest(
            "A tool message must answer a tool call of an earlier assistant message.",
            param=f"messages[{i}].tool_call_id",
        )
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(str(p.get("text", "")) for p in text if isinstance(p, dict))
    try:
        value = orjson.loads(text) if isinstance(text, str) else None
    except orjson.JSONDecodeError:
        value = None
    # `response` must be an object: a JSON object is sent as is, anything else is wrapped.
    response = value if isinstance(value, dict) else {"result": text if text is not None else ""}
    return {"functionResponse": {"name": name, "response": response}}


def _declaration(tool: Any, i: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise InvalidRequest(
            f"Tool type {kind!r} is not supported by Gemini backends; only function tools are.",
            param=f"tools[{i}]",
        )
    function = tool.get("function") or {}
    declaration: dict[str, Any] = {"name": function.get("name")}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        # JSON Schema as OpenAI clients write it (additionalProperties, $defs, ...), which
        # Gemini's OpenAPI-subset `parameters` would refuse.
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _calling_config(choice: Any) -> dict[str, Any]:
    if choice == "none":
        return {"mode": "NONE"}
    if choice == "auto":
        return {"mode": "AUTO"}
    if choice == "required":
        return {"mode": "ANY"}
    if isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    raise InvalidRequest("Unsupported tool_choice.", param="tool_choice")


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("n", "candidateCount"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("seed", "seed"),
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            config["responseMimeType"] = "application/json"
        elif fmt.get("type") == "json_schema":
            config["responseMimeType"] = "application/json"
            schema = (fmt.get("json_schema") or {}).get("schema")
            if schema:
                config["responseJsonSchema"] = schema
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in _THINKING_BUDGETS:
            raise InvalidRequest(f"Unknown reasoning_effort {effort!r}.", param="reasoning_effort")
        budget = _THINKING_BUDGETS[effort]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


# Response ---------------------------------------------------------------------------------


def finish_reason(reason: str | None, has_calls: bool) -> str | None:
    """A Gemini finishReason as OpenAI's; a stop after function calls is `tool_calls`."""
    if not reason:
        return None
    mapped = _FINISH_REASONS.get(reason, "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def usage_of(metadata: Any) -> dict[str, Any] | None:
    """usageMetadata as OpenAI usage; thinking tokens are output tokens (billed as such)."""
    if not isinstance(metadata, dict):
        return None
    prompt = int(metadata.get("promptTokenCount") or 0)
    prompt += int(metadata.get("toolUsePromptTokenCount") or 0)
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    completion = int(metadata.get("candidatesTokenCount") or 0) + thoughts
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(metadata.get("totalTokenCount") or prompt + completion),
    }
    cached = metadata.get("cachedContentTokenCount")
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": int(cached)}
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return usage


def _split_parts(parts: Any, new_id: NewId) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """(answer text, thought text, tool calls) of a candidate's parts."""
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            call = part["functionCall"] or {}
            call_id = new_id()
            if part.get("thoughtSignature"):
                call_id += THOUGHT_SEPARATOR + str(part["thoughtSignature"])
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name", ""), "arguments": arguments}
            calls.append({"id": call_id, "type": "function", "function": function})
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else text).append(part["text"])
    return ("".join(text) if text else None), ("".join(thoughts) if thoughts else None), calls


def response_to_chat(
    resp: dict[str, Any], model: str, *, id_: str, created: int, new_id: NewId = new_call_id
) -> dict[str, Any]:
    """A GenerateContentResponse as a chat.completion; a blocked prompt is one choice with
    `finish_reason: content_filter` and no content."""
    choices: list[dict[str, Any]] = []
    for position, candidate in enumerate(resp.get("candidates") or []):
        content = candidate.get("content") or {}
        text, thoughts, calls = _split_parts(content.get("parts"), new_id)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thoughts is not None:
            message["reasoning_content"] = thoughts
        if calls:
            message["tool_calls"] = calls
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls))
                or "stop",
            }
        )
    if not choices:
        blocked = (resp.get("promptFeedback") or {}).get("blockReason")
        choices.append(
            {
                "index": 0,
                "message": {"role": "assistant", "content": None},
                "finish_reason": "content_filter" if blocked else "stop",
            }
        )
    out: dict[str, Any] = {
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": resp.get("modelVersion") or model,
        "choices": choices,
    }
    usage = usage_of(resp.get("usageMetadata"))
    if usage is not None:
        out["usage"] = usage
    return out


# Stream -----------------------------------------------------------------------------------


class StreamTranslator:
    """Turns each Gemini stream event into at most one chat chunk, keeping what spans events:
    the role sent per choice, the tool-call index per choice, finished choices, last usage.

    `finished` says whether the stream may end here: every candidate seen has a
    finishReason, or the prompt was blocked. Gemini ends a stream by closing the connection,
    so this is the only way to tell a complete answer from a cut one.
    """

    __slots__ = ("_base", "_calls", "_new_id", "_open", "_roles", "blocked", "events", "usage")

    def __init__(self, model: str, *, id_: str, created: int, new_id: NewId = new_call_id) -> None:
        self._base = {"id": id_, "object": "chat.completion.chunk", "created": created}
        self._base["model"] = model
        self._new_id = new_id
        self._roles: set[int] = set()
        self._calls: dict[int, int] = {}  # choice index → tool calls sent so far
        self._open: dict[int, bool] = {}  # choice index → still without finishReason
        self.blocked = False
        self.events = 0
        self.usage: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.blocked or (bool(self._open) and not any(self._open.values()))

    def feed(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The chunk for one event, or None when it carries nothing a client would see."""
        self.events += 1
        if self.events == 1 and event.get("modelVersion"):
            self._base["model"] = event["modelVersion"]
        usage = usage_of(event.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        choices = [c for c in map(self._choice, event.get("candidates") or []) if c is not None]
        if not choices and (event.get("promptFeedback") or {}).get("blockReason"):
            self.blocked = True
            delta = {"role": "assistant"} if 0 not in self._roles else {}
            self._roles.add(0)
            choices = [{"index": 0, "delta": delta, "finish_reason": "content_filter"}]
        if not choices:
            return None
        return {**self._base, "choices": choices}

    def _choice(self, candidate: dict[str, Any]) -> dict[str, Any] | None:
        index = candidate.get("index", 0)
        self._open.setdefault(index, True)
        text, thoughts, calls = _split_parts(
            (candidate.get("content") or {}).get("parts"), self._new_id
        )
        delta: dict[str, Any] = {}
        if index not in self._roles:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        if thoughts is not None:
            delta["reasoning_content"] = thoughts
        if calls:
            first = self._calls.get(index, 0)
            delta["tool_calls"] = [{"index": first + k, **call} for k, call in enumerate(calls)]
            self._calls[index] = first + len(calls)
        reason = finish_reason(candidate.get("finishReason"), bool(self._calls.get(index)))
        if reason is not None:
            self._open[index] = False
        if len(delta) == (0 if index in self._roles else 1) and reason is None:
            return None  # nothing new (a usage-only or empty-parts event)
        self._roles.add(index)
        return {"index": index, "delta": delta, "finish_reason": reason}

    def usage_chunk(self) -> dict[str, Any] | None:
        """The closing `choices: []` chunk with the last usage, as OpenAI's include_usage."""
        if self.usage is None:
            return None
        return {**self._base, "choices": [], "usage": self.usage}
