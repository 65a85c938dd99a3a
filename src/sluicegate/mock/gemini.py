"""The mock's Gemini wire format (Generative Language API v1beta), as pure functions.

`upstream.py` serves it at `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse` with the same `#mock` directives and fault machinery as the
OpenAI side (`directives.py`); this module only says what Google would send:

    GenerateContentResponse  {candidates: [{content: {role: "model", parts: [...]},
                              finishReason, index}], usageMetadata: {promptTokenCount,
                              candidatesTokenCount, thoughtsTokenCount, totalTokenCount,
                              promptTokensDetails}, modelVersion, responseId}
    stream                   `data: {GenerateContentResponse}\\r\\n\\r\\n` per event, the last
                             one with finishReason and full usageMetadata; no [DONE], the
                             connection simply ends
    error                    {error: {code, message, status}} (+ RetryInfo detail on a 429
                             with retry_after), also as a mid-stream event

Directive keys as on the OpenAI side (chunks → one text part `w{i} ` per event, numbered on
after a last `model` turn as `continuation.py` says, reasoning=1 →
a `thought: true` part `r{i} ` before it, tools=1 → one `functionCall` get_weather(city=Paris)
event with a `thoughtSignature`), plus three read from the directive line here:

    finish=REASON        the finishReason of the last event (default STOP), e.g. SAFETY
    block=REASON         no candidates: `promptFeedback.blockReason` REASON (content blocked)
    nofinish=1           stream: end cleanly after the content events, without a finishReason
"""

from __future__ import annotations

from typing import Any

import orjson

from .directives import Directive, Meta, continued_words

API_KEY_HEADER = "x-goog-api-key"
MOCK_SIGNATURE = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ=="
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
ERROR_EVENT = (
    b'data: {"error":{"code":500,"message":"mock upstream error","status":"INTERNAL"}}\r\n\r\n'
)


# Request ----------------------------------------------------------------------------------


def request_text(body: dict[str, Any]) -> tuple[str, int]:
    """The text of the last user turn that has text, and the word count of every text part
    (system instruction included)."""
    words = 0
    last_user = ""
    system = body.get("systemInstruction")
    turns = [system] if isinstance(system, dict) else []
    contents = body.get("contents")
    turns += contents if isinstance(contents, list) else []
    for turn in turns:
        if not isinstance(turn, dict):
            continue
        parts = turn.get("parts")
        if not isinstance(parts, list):
            continue
        texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
        text = "\n".join(texts)
        words += len(text.split())
        if turn.get("role") == "user" and texts and turn is not system:
            last_user = text
    return last_user, words


# Answers ----------------------------------------------------------------------------------


def error_body(status: int, message: str, retry_after: str | None = None) -> bytes:
    """Google's error envelope; a 429 with a wait carries it as a RetryInfo detail."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN" if status >= 500 else "FAILED_PRECONDITION"),
    }
    if status == 429 and retry_after:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
    return orjson.dumps({"error": error})


def status_body(d: Directive) -> bytes:
    return error_body(d.status, f"mock status {d.status}", d.retry_after)


def _usage(meta: Meta, output: int, thoughts: int, final: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": meta.prompt_tokens}
    if final:
        usage["candidatesTokenCount"] = output
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = meta.prompt_tokens + (output + thoughts if final else 0)
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": meta.prompt_tokens}]
    return usage


def _response(meta: Meta, candidates: list[dict[str, Any]], usage: dict[str, Any]) -> dict:
    out: dict[str, Any] = {"candidates": candidates} if candidates else {}
    out.update(usageMetadata=usage, modelVersion=meta.model, responseId=meta.id)
    return out


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return candidate


def _content_parts(d: Directive) -> list[list[dict[str, Any]]]:
    """The parts of each content event."""
    if d.tools:
        call = {"name": "get_weather", "args": {"city": "Paris"}}
        return [[{"functionCall": call, "thoughtSignature": MOCK_SIGNATURE}]]
    events = []
    for i, text in enumerate(continued_words(d), d.start):
        parts: list[dict[str, Any]] = []
        if d.reasoning:
            parts.append({"text": f"r{i} ", "thought": True})
        parts.append({"text": text})
        events.append(parts)
    return events


def _blocked(d: Directive, meta: Meta) -> dict[str, Any] | None:
    reason = d.option("block")
    if not reason:
        return None
    out: dict[str, Any] = {"promptFeedback": {"blockReason": reason}}
    out.update(usageMetadata=_usage(meta, 0, 0), modelVersion=meta.model, responseId=meta.id)
    return out


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\r\n\r\n"


def stream_answer(d: Directive, meta: Meta) -> tuple[list[bytes], list[bytes]]:
    """A stream's content events and its tail (the finishReason event, unless nofinish=1)."""
    blocked = _blocked(d, meta)
    if blocked is not None:
        return [], [_event(blocked)]
    events = _content_parts(d)
    thoughts = len(events) if d.reasoning else 0
    content = [
        _event(_response(meta, [_candidate(parts, None)], _usage(meta, 0, 0, final=False)))
        for parts in events
    ]
    if d.option("nofinish") in ("1", "true"):
        return content, []
    finish = d.option("finish") or "STOP"
    last = _candidate([{"text": ""}], finish)
    return content, [_event(_response(meta, [last], _usage(meta, len(events), thoughts)))]


def body_answer(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A generateContent answer body, and the number of content events it stands for."""
    blocked = _blocked(d, meta)
    if blocked is not None:
        return orjson.dumps(blocked), 0
    events = _content_parts(d)
    if d.tools:
        parts = events[0]
    else:
        parts = []
        if d.reasoning:
            parts.append({"text": "".join(f"r{i} " for i in range(d.chunks)), "thought": True})
        parts.append({"text": "".join(continued_words(d))})
    thoughts = len(events) if d.reasoning else 0
    candidate = _candidate(parts, d.option("finish") or "STOP")
    answer = _response(meta, [candidate], _usage(meta, len(events), thoughts))
    return orjson.dumps(answer), len(events)
