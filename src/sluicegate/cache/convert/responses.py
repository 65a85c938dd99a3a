"""OpenAI Responses (/v1/responses): a stored Response object as the event stream OpenAI would
have sent, and a stored event stream as the Response object.

    Response   ─► response.created, response.in_progress (the Response in progress, no
                  output), per output item: output_item.added (the item empty), its parts
                  and deltas (PIECE_CHARS each):
                    message        content_part.added, output_text.delta ... .done (or
                                   refusal.delta ... .done), content_part.done; each of
                                   the text's annotations as output_text.annotation.added
                                   right after the delta that sends the end of what it
                                   cites (`end_index`; one without it after the last)
                    reasoning      reasoning_summary_part.added, reasoning_summary_text
                                   .delta ... .done, reasoning_summary_part.done; then its
                                   content parts (reasoning_text) like a message's
                    function_call  function_call_arguments.delta ... .done
                  output_item.done (the stored item); then response.completed (or
                  response.incomplete) carrying the stored Response; every event numbered
                  by `sequence_number` from 0
    events     ─► the Response object of the final event (response.completed / incomplete)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..entry import Entry
from .frames import named_frame, objects, pieces

Emit = Callable[..., None]
_FINAL = ("response.completed", "response.incomplete")
# A content part's type → the prefix of its delta / done events and its text field.
_PARTS = {
    "output_text": ("response.output_text", "text"),
    "refusal": ("response.refusal", "refusal"),
    "reasoning_text": ("response.reasoning_text", "text"),
}


def to_stream(entry: Entry) -> Entry:
    response = orjson.loads(entry.body)
    frames: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        frames.append(named_frame({"type": kind, "sequence_number": len(frames), **fields}))

    start = {**response, "status": "in_progress", "output": [], "usage": None}
    start.update(incomplete_details=None, error=None)
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(response.get("output") or ()):
        _item_events(emit, index, item)
    final = "response.incomplete" if response.get("status") == "incomplete" else _FINAL[0]
    emit(final, response=response)
    return Entry(True, b"".join(frames), usage=entry.usage)


def _item_events(emit: Emit, index: int, item: dict[str, Any]) -> None:
    kind = item.get("type")
    where = {"item_id": item.get("id"), "output_index": index}
    opening = {**item, "status": "in_progress"} if "status" in item else dict(item)
    if kind in ("message", "reasoning"):
        opening["content"] = []
    if kind == "reasoning":
        opening["summary"] = []
    if kind == "function_call":
        opening["arguments"] = ""
    emit("response.output_item.added", output_index=index, item=opening)
    for number, part in enumerate(item.get("summary") or () if kind == "reasoning" else ()):
        text = part.get("text", "")
        at = {**where, "summary_index": number}
        emit("response.reasoning_summary_part.added", **at, part={**part, "text": ""})
        for piece in pieces(text):
            emit("response.reasoning_summary_text.delta", **at, delta=piece)
        emit("response.reasoning_summary_text.done", **at, text=text)
        emit("response.reasoning_summary_part.done", **at, part=part)
    if kind in ("message", "reasoning"):
        for number, part in enumerate(item.get("content") or ()):
            _part_events(emit, {**where, "content_index": number}, part)
    if kind == "function_call":
        arguments = item.get("arguments") or ""
        for piece in pieces(arguments):
            emit("response.function_call_arguments.delta", **where, delta=piece)
        name = item.get("name")
        emit("response.function_call_arguments.done", **where, name=name, arguments=arguments)
    emit("response.output_item.done", output_index=index, item=item)


def _part_events(emit: Emit, at: dict[str, Any], part: dict[str, Any]) -> None:
    prefix, field = _PARTS.get(str(part.get("type")), ("", ""))
    if not prefix:
        emit("response.content_part.added", **at, part=part)
        emit("response.content_part.done", **at, part=part)
        return
    text = part.get(field) or ""
    logprobs: dict[str, Any] = {"logprobs": []} if part.get("type") == "output_text" else {}
    opening = {**part, field: ""}
    if "annotations" in part:
        opening["annotations"] = []
    emit("response.content_part.added", **at, part=opening)
    notes = part.get("annotations") if part.get("type") == "output_text" else None
    notes = notes if isinstance(notes, list) else []
    sent = added = 0
    for piece in pieces(text):
        emit(prefix + ".delta", **at, delta=piece, **logprobs)
        sent += len(piece)
        added = _annotations(emit, at, notes, added, sent)
    _annotations(emit, at, notes, added, None)
    emit(prefix + ".done", **at, **{field: text}, **logprobs)
    emit("response.content_part.done", **at, part=part)


def _annotations(
    emit: Emit, at: dict[str, Any], notes: list[Any], first: int, sent: int | None
) -> int:
    """Announce `notes[first:]` in order while the text they cite has been sent (`sent`
    characters; None: the text is all out), as OpenAI streams citations; the next index."""
    while first < len(notes):
        note = notes[first]
        end = note.get("end_index") if isinstance(note, dict) else None
        if sent is not None and (type(end) is not int or end > sent):
            break
        emit("response.output_text.annotation.added", **at, annotation_index=first, annotation=note)
        first += 1
    return first


def from_stream(entry: Entry) -> Entry:
    """The final event's Response (a stored stream always has one: it ended cleanly)."""
    final = [e for e in objects(entry.body) if e.get("type") in _FINAL]
    response = final[-1]["response"]
    if not isinstance(response, dict):
        raise ValueError("the final event carries no response")
    return Entry(False, orjson.dumps(response), usage=entry.usage)
