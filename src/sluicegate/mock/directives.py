"""The mock's directive language and the answers it dictates, as pure functions (no I/O).

A request steers the mock with `#mock key=value key=value ...` in its last user message
(chat; a string or a list of `{"type": "text", "text": ...}` parts), its `prompt`
(completions) or its `input` (embeddings): the first `#mock` and the rest of its line.
Unknown keys and malformed values are ignored. Without a directive the answer is three chunks.

    key                  effect
    chunks=N             N content chunks (default 3); chunk i (from 0) carries "w{i} ",
                         a non-stream answer joins them; completion_tokens = N
    latency_ms=N         wait N ms before the response starts (status line), any request
    ttft_ms=N            stream: wait N ms after the headers, before the first event
    inter_ms=N           stream: wait N ms before every event after the first
    status=N             answer HTTP N (400-599) with an OpenAI error body: message
                         "mock status N", type invalid_request_error (4xx) or server_error
                         (5xx), code "mock_error", param null
    retry_after=S        with status: a `Retry-After: S` header
    fail_times=N         the faults (status, reset_before, empty, disconnect_after,
                         error_event_after) hit only the first N requests carrying the same
                         directive line; later ones are answered normally. Without it, always.
    reset_before=1       reset the TCP connection (SO_LINGER 0) before any response byte
    empty=1              stream: 200 text/event-stream that ends cleanly with no event at all
    disconnect_after=N   stream: close the connection abruptly after N content chunks
                         (the client sees a premature end of the chunked body)
    error_event_after=N  stream: after N content chunks send `data: {"error": {"message":
                         "mock upstream error", "type": "server_error", "code":
                         "mock_error"}}` and end cleanly, without [DONE]
    reasoning=1          chat: each delta also has `reasoning: "r{i} "`; non-stream
                         `message.reasoning` joins them
    reasoning_content=1  chat: each delta also has `reasoning_content: "g{i} "` (a value
                         already there, which a gateway copying reasoning must keep; combine
                         with reasoning=1 to test that); non-stream joins them
    pad=N                chat: every content chunk's text also carries N "x" characters
                         (a big stream from few chunks, for backpressure tests)
    tools=1              chat: a get_weather tool call with arguments '{"city": "Paris"}' and
                         finish_reason "tool_calls"; the stream sends the call's id and name
                         with empty arguments first, then the arguments in 3 pieces; these 4
                         events are its chunks
    tool_calls=K         with tools=1, K parallel calls (the Anthropic wire only, see
                         `mock/anthropic.py`)

    fault_model=A[,B]    the faults hit only requests for these upstream models
    continue_ttft_ms=N   a continuation (last message the assistant's) waits N ms first
    echo=1               a continuation first repeats its prefix (see `continuation.py`)

`N` past the last chunk in disconnect_after / error_event_after means after the last content
chunk, before the finish chunk; disconnect_after wins when both are given. Stream-only keys do
nothing to non-stream requests. prompt_tokens counts the whitespace-separated words of every
message (or of the prompt / input).

`parse()` costs one substring test when the text has no `#mock`; lines are parsed once and
cached, since benchmarks repeat the same directive thousands of times.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

MARKER = "#mock"
EMBEDDING_DIMENSION = 8
ERROR_EVENT = (
    b'data: {"error":{"message":"mock upstream error","type":"server_error","code":"mock_error"}}'
    b"\n\n"
)
_DONE = b"data: [DONE]\n\n"
_TOOL_NAME = "get_weather"
_TOOL_ARGUMENTS = ('{"city": ', '"Paris"', "}")


# Directives -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Directive:
    """What one request asks of the mock; the defaults are a plain three-chunk answer."""

    line: str = ""
    chunks: int = 3
    ttft_ms: int = 0
    inter_ms: int = 0
    latency_ms: int = 0
    status: int = 0
    retry_after: str | None = None
    fail_times: int | None = None
    empty: bool = False
    disconnect_after: int | None = None
    reset_before: bool = False
    error_event_after: int | None = None
    reasoning: bool = False
    reasoning_content: bool = False
    tools: bool = False
    pad: int = 0
    tool_calls: int | None = None
    # Continuations (`continuation.py`): keys, then what `adjust` fills in per request.
    fault_model: str = ""
    continue_ttft_ms: int | None = None
    echo: bool = False
    start: int = 0
    lead_space: bool = False
    echo_text: str = ""

    def option(self, key: str) -> str | None:
        """The value of a key only one wire reads (not a field here: Gemini's `finish`, the
        Responses API's `cite`), from the directive line; None without it."""
        prefix = key + "="
        for token in self.line.split():
            if token.startswith(prefix):
                return token[len(prefix) :]
        return None

    def without_faults(self) -> Directive:
        """This directive once its `fail_times` budget is spent: timings kept, faults gone."""
        return dataclasses.replace(
            self,
            status=0,
            retry_after=None,
            empty=False,
            disconnect_after=None,
            reset_before=False,
            error_event_after=None,
        )


DEFAULT = Directive()

_INT_KEYS = frozenset(
    {
        "chunks",
        "ttft_ms",
        "inter_ms",
        "latency_ms",
        "status",
        "fail_times",
        "disconnect_after",
        "error_event_after",
        "pad",
        "tool_calls",
        "continue_ttft_ms",
    }
)
_FLAG_KEYS = frozenset({"empty", "reset_before", "reasoning", "reasoning_content", "tools", "echo"})
_TRUE = frozenset({"1", "true", "yes", "on"})


def parse(text: str) -> Directive:
    """The directive on the line of the first `#mock` in `text`, or `DEFAULT` without one."""
    start = text.find(MARKER)
    if start < 0:
        return DEFAULT
    start += len(MARKER)
    end = text.find("\n", start)
    return _parse_line(text[start:] if end < 0 else text[start:end])


@lru_cache(maxsize=4096)
def _parse_line(rest: str) -> Directive:
    # Cached: benchmarks send the same directive line thousands of times.
    line = rest.strip()
    values: dict[str, Any] = {}
    for token in line.split():
        key, sep, value = token.partition("=")
        if not sep:
            continue
        if key in _INT_KEYS:
            try:
                values[key] = max(0, int(value))
            except ValueError:
                continue  # a malformed value falls back to the default, like an unknown key
        elif key in _FLAG_KEYS:
            values[key] = value.lower() in _TRUE
        elif key in ("retry_after", "fault_model") and value:
            values[key] = value
    return Directive(line=line, **values)


# Request text -----------------------------------------------------------------------------


def content_text(content: object) -> str:
    """A message `content`: a string, or the `text` parts of a part list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def chat_text(messages: object) -> tuple[str, int]:
    """The last user message's text, and the word count of every message's text."""
    if not isinstance(messages, list):
        return "", 0
    last_user = ""
    words = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = content_text(message.get("content"))
        words += len(text.split())
        if message.get("role") == "user":
            last_user = text
    return last_user, words


def input_texts(value: object) -> list[str]:
    """A `prompt` or `input`: one string, a list of strings, or token arrays (as digits)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    if value and all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    texts: list[str] = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list):
            texts.append(" ".join(map(str, item)))
    return texts


def prompt_text(value: object) -> tuple[str, int]:
    """A `prompt` or `input` as one newline-joined text, and its word count."""
    text = "\n".join(input_texts(value))
    return text, len(text.split())


# Answers ----------------------------------------------------------------------------------


class Meta(NamedTuple):
    """The request-wide facts an answer is built from."""

    id: str
    created: int
    model: str
    prompt_tokens: int
    include_usage: bool
    request: dict[str, Any]


def status_body(d: Directive) -> bytes:
    """The OpenAI error body answered with `status=N`."""
    kind = "invalid_request_error" if d.status < 500 else "server_error"
    error = {"message": f"mock status {d.status}", "type": kind, "code": "mock_error"}
    return orjson.dumps({"error": {**error, "param": None}})


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _usage(meta: Meta, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": meta.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": meta.prompt_tokens + completion_tokens,
    }


def _chat_deltas(d: Directive) -> list[dict[str, Any]]:
    if d.tools:
        first = {
            "index": 0,
            "id": "call_mock",
            "type": "function",
            "function": {"name": _TOOL_NAME, "arguments": ""},
        }
        pieces = [{"index": 0, "function": {"arguments": piece}} for piece in _TOOL_ARGUMENTS]
        return [{"tool_calls": [call]} for call in (first, *pieces)]
    deltas = []
    if d.start or d.echo_text:  # a continuation (`continuation.py`)
        return [{"content": piece} for piece in continued_words(d)]
    for i in range(d.chunks):
        delta: dict[str, Any] = {}
        if d.reasoning:
            delta["reasoning"] = f"r{i} "
        if d.reasoning_content:
            delta["reasoning_content"] = f"g{i} "
        delta["content"] = f"w{i} " + "x" * d.pad if d.pad else f"w{i} "
        deltas.append(delta)
    return deltas


def continued_words(d: Directive) -> list[str]:
    """The content pieces of a continuation (`continuation.adjust` set `start`, `lead_space`,
    `echo_text`): the echo, then `w{start}` .. `w{chunks-1}`."""
    pieces = [f"w{i} " for i in range(d.start, d.chunks)]
    if pieces and d.lead_space:
        pieces[0] = " " + pieces[0]
    if d.echo_text:
        half = len(d.echo_text) // 2 + 1  # mid-word: trimming must work across chunks
        pieces[:0] = [d.echo_text[:half], d.echo_text[half:]]
    return pieces


def chat_stream(d: Directive, meta: Meta) -> tuple[list[bytes], list[bytes]]:
    """A chat stream's content events, and its tail: finish, usage if asked, [DONE]."""
    deltas = _chat_deltas(d)
    finish_delta: dict[str, Any] = {}
    if deltas:  # the role leads the first delta; content null beside a tool call, as OpenAI
        deltas[0] = {"role": "assistant", **({"content": None} if d.tools else {}), **deltas[0]}
    else:
        finish_delta["role"] = "assistant"
    envelope = {"id": meta.id, "object": "chat.completion.chunk", "created": meta.created}
    envelope["model"] = meta.model

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if meta.include_usage:  # OpenAI then sends `usage: null` on every other chunk
            return _event({**envelope, "choices": [choice], "usage": None})
        return _event({**envelope, "choices": [choice]})

    content = [chunk(delta, None) for delta in deltas]
    tail = [chunk(finish_delta, "tool_calls" if d.tools else "stop")]
    if meta.include_usage:
        tail.append(_event({**envelope, "choices": [], "usage": _usage(meta, len(deltas))}))
    tail.append(_DONE)
    return content, tail


def chat_body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A chat.completion JSON body, and the number of chunks it stands for."""
    message: dict[str, Any] = {"role": "assistant"}
    if d.tools:
        message["content"] = None
        arguments = "".join(_TOOL_ARGUMENTS)
        call = {"name": _TOOL_NAME, "arguments": arguments}
        message["tool_calls"] = [{"id": "call_mock", "type": "function", "function": call}]
        count, finish = len(_TOOL_ARGUMENTS) + 1, "tool_calls"
    else:
        count, finish = d.chunks, "stop"
        message["content"] = "".join(f"w{i} " for i in range(count))
        if d.reasoning:
            message["reasoning"] = "".join(f"r{i} " for i in range(count))
        if d.reasoning_content:
            message["reasoning_content"] = "".join(f"g{i} " for i in range(count))
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    answer = {"id": meta.id, "object": "chat.completion", "created": meta.created}
    answer.update(model=meta.model, choices=[choice], usage=_usage(meta, count))
    return orjson.dumps(answer), count


def completion_stream(d: Directive, meta: Meta) -> tuple[list[bytes], list[bytes]]:
    """A legacy completions stream's content events, and its tail (as `chat_stream`)."""
    envelope = {"id": meta.id, "object": "text_completion", "created": meta.created}
    envelope["model"] = meta.model

    def chunk(text: str, finish: str | None) -> bytes:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        return _event({**envelope, "choices": [choice]})

    content = [chunk(text, None) for text in continued_words(d)]
    tail = [chunk("", "stop")]
    if meta.include_usage:
        tail.append(_event({**envelope, "choices": [], "usage": _usage(meta, len(content))}))
    tail.append(_DONE)
    return content, tail


def completion_body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A text_completion JSON body, and the number of chunks it stands for."""
    text = "".join(f"w{i} " for i in range(d.chunks))
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
    answer = {"id": meta.id, "object": "text_completion", "created": meta.created}
    answer.update(model=meta.model, choices=[choice], usage=_usage(meta, d.chunks))
    return orjson.dumps(answer), d.chunks


def _vector(text: str) -> list[float]:
    # Multiples of 1/128 survive the float32 round trip of base64 exactly.
    digest = hashlib.blake2b(text.encode(), digest_size=EMBEDDING_DIMENSION).digest()
    return [(byte - 128) / 128 for byte in digest]


def embedding_body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """An embeddings list body (floats, or base64 float32 as the openai SDK asks), and 0."""
    as_base64 = meta.request.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(input_texts(meta.request.get("input"))):
        vector: Any = _vector(text)
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    usage = {"prompt_tokens": meta.prompt_tokens, "total_tokens": meta.prompt_tokens}
    answer = {"object": "list", "data": data, "model": meta.model, "usage": usage}
    return orjson.dumps(answer), 0
