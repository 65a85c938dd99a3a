"""The mock's OpenAI Responses API wire (`POST /v1/responses`), for backends with
`responses: native`: a Response object, or its stream of `event: <type>` SSE events with
`sequence_number`s, ending with `response.completed` (no `[DONE]`).

Directives as for chat: chunks=N text deltas "w{i} " (cut to `max_output_tokens`, then
status "incomplete"); tools=1 a get_weather `function_call` item (arguments in 3 deltas);
error_event_after=N an `event: error` after N deltas; the stream and fault timings as
everywhere. The directive is read from the last user message of `input` (or `input` itself).
Read here only: cite=K gives the text K `url_citation` annotations, the i-th citing word
`w{i}` (`https://example.com/w{i}`, title `W{i}`); a stream sends each as a
`response.output_text.annotation.added` right after the delta of the word it cites.
"""

from __future__ import annotations

from typing import Any

import orjson

from .directives import Directive, Meta, content_text

_TOOL_NAME = "get_weather"
_TOOL_ARGUMENTS = ('{"city": ', '"Paris"', "}")

ERROR_EVENT = (
    b'event: error\ndata: {"type":"error","code":"server_error",'
    b'"message":"mock upstream error","param":null,"sequence_number":0}\n\n'
)


def request_text(body: dict[str, Any]) -> tuple[str, int]:
    """The last user message's text (or the string input), and the words of the whole input."""
    source = body.get("input")
    if isinstance(source, str):
        return source, len(source.split())
    last_user, words = "", 0
    for item in source if isinstance(source, list) else ():
        if not isinstance(item, dict):
            continue
        text = content_text(item.get("content")) if "content" in item else ""
        words += len(text.split())
        if item.get("role") == "user":
            last_user = text
    return last_user, words


def _words(d: Directive, meta: Meta) -> tuple[int, bool]:
    limit = meta.request.get("max_output_tokens")
    if isinstance(limit, int) and 0 <= limit < d.chunks:
        return limit, True
    return d.chunks, False


def _response(meta: Meta, status: str, output: list[Any], out_tokens: int | None) -> Any:
    usage = None
    if out_tokens is not None:
        usage = {
            "input_tokens": meta.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": meta.prompt_tokens + out_tokens,
        }
    return {
        "id": "resp_" + meta.id.replace("-", "_"),
        "object": "response",
        "created_at": meta.created,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": meta.request.get("instructions"),
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": meta.request.get("tool_choice", "auto"),
        "tools": meta.request.get("tools", []),
        "usage": usage,
    }


def _citations(d: Directive, words: int) -> list[dict[str, Any]]:
    """cite=K's annotations: the i-th covers "w{i}" of "w0 w1 ..." (i < K, i < words)."""
    cite = d.option("cite")
    count = min(int(cite), words) if cite and cite.isdigit() else 0
    notes, start = [], 0
    for i in range(count):
        word = f"w{i}"
        notes.append(
            {
                "type": "url_citation",
                "start_index": start,
                "end_index": start + len(word),
                "title": f"W{i}",
                "url": f"https://example.com/{word}",
            }
        )
        start += len(word) + 1
    return notes


def _message(text: str, status: str, notes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": text, "annotations": notes or []}]
    return {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts if status == "completed" else [],
    }


def _call(arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": "fc_mock",
        "type": "function_call",
        "call_id": "call_mock",
        "name": _TOOL_NAME,
        "arguments": arguments,
        "status": status,
    }


def body(d: Directive, meta: Meta) -> tuple[bytes, int]:
    """A Response JSON body, and the number of chunks it stands for."""
    if d.tools:
        item, count, status = _call("".join(_TOOL_ARGUMENTS), "completed"), 4, "completed"
    else:
        count, cut = _words(d, meta)
        text = "".join(f"w{i} " for i in range(count))
        item = _message(text, "completed", _citations(d, count))
        status = "incomplete" if cut else "completed"
    return orjson.dumps(_response(meta, status, [item], count)), count


def stream(d: Directive, meta: Meta) -> tuple[list[bytes], list[bytes]]:
    """The content events (one per delta, the openings folded into the first) and the tail
    (the *.done events and response.completed)."""
    events: list[list[dict[str, Any]]] = []
    head = [
        {"type": "response.created", "response": _response(meta, "in_progress", [], None)},
        {"type": "response.in_progress", "response": _response(meta, "in_progress", [], None)},
    ]
    where = {"output_index": 0}
    if d.tools:
        item = _call("", "in_progress")
        head.append({"type": "response.output_item.added", **where, "item": item})
        pieces = [
            [
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": "fc_mock",
                    **where,
                    "delta": piece,
                }
            ]
            for piece in _TOOL_ARGUMENTS
        ]
        done_item = _call("".join(_TOOL_ARGUMENTS), "completed")
        tail = [
            {
                "type": "response.function_call_arguments.done",
                "item_id": "fc_mock",
                **where,
                "arguments": done_item["arguments"],
            },
        ]
        count, status = len(pieces) + 1, "completed"
    else:
        count, cut = _words(d, meta)
        text = "".join(f"w{i} " for i in range(count))
        at = {"item_id": "msg_mock", **where, "content_index": 0}
        head.append(
            {"type": "response.output_item.added", **where, "item": _message("", "in_progress")}
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        head.append({"type": "response.content_part.added", **at, "part": part})
        notes = _citations(d, count)
        pieces = []
        for i in range(count):
            piece = {"type": "response.output_text.delta", **at, "delta": f"w{i} ", "logprobs": []}
            if i < len(notes):  # the cited word has just been sent: its annotation follows
                added = {"type": "response.output_text.annotation.added", **at}
                pieces.append([piece, {**added, "annotation_index": i, "annotation": notes[i]}])
            else:
                pieces.append([piece])
        done_item = _message(text, "completed", notes)
        tail = [
            {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
            {
                "type": "response.content_part.done",
                **at,
                "part": {**part, "text": text, "annotations": notes},
            },
        ]
        status = "incomplete" if cut else "completed"
    tail.append({"type": "response.output_item.done", **where, "item": done_item})
    final = _response(meta, status, [done_item], count)
    tail.append({"type": f"response.{status}", "response": final})
    events = [[*head, *pieces[0]], *pieces[1:]] if pieces else [head]
    seq = 0

    def numbered(group: list[dict[str, Any]]) -> bytes:
        nonlocal seq
        out = []
        for event in group:
            event = {**event, "sequence_number": seq}
            seq += 1
            out.append(b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event))
        return b"\n\n".join(out) + b"\n\n"

    content = [numbered(group) for group in events]
    return content, [numbered(tail)]
