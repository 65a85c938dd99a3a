"""Recorder: the bytes of one answer collected as they are sent, turned into an Entry at its end.

Recording never delays a byte: the proxy appends each body it sends (keep-alives excepted) to a
list and the entry is made once the answer finished cleanly. Beyond MAX_ENTRY_BYTES recording
stops and nothing is stored.

OpenAI streams (ending in `data: [DONE]`) get their usage event set apart, so that a hit can
send it only to clients that asked (`stream_options.include_usage`). The gateway always asks
upstreams for usage, so it is known even when the recorded client did not ask for it: the
event is then rebuilt from the stream's first chunk (`id`, `object`, `created`, `model`) and
the usage, as OpenAI sends it (`choices: []`).
"""

from __future__ import annotations

from typing import Any

import orjson

from .entry import Entry

MAX_ENTRY_BYTES = 4 * 1024 * 1024
DONE_FRAME = b"data: [DONE]\n\n"
_DATA = b"data: "
_HEAD_FIELDS = ("id", "object", "created", "model", "system_fingerprint")


class Recorder:
    __slots__ = ("overflow", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.overflow = False

    def add(self, body: bytes) -> None:
        if self.overflow:
            return
        self.size += len(body)
        if self.size > MAX_ENTRY_BYTES:
            self.overflow = True
            self.parts = []
            return
        self.parts.append(body)

    def entry(self, stream: bool, usage: dict[str, Any] | None) -> Entry | None:
        """The Entry of what was recorded, or None when it is too big to keep."""
        if self.overflow:
            return None
        sent = b"".join(self.parts)
        if not stream:
            return Entry(False, sent, usage=usage)
        if not sent.endswith(DONE_FRAME):
            return Entry(True, sent, usage=usage)
        return _openai_stream(sent[: -len(DONE_FRAME)], usage)


def _openai_stream(events: bytes, usage: dict[str, Any] | None) -> Entry:
    """Split the usage-only chunk off an OpenAI stream (or rebuild it from `usage`)."""
    # Frames are `data: <one-line JSON>\n\n`; JSON never holds a raw newline, so the last
    # frame starts after the last blank line.
    last_start = events.rfind(b"\n\n" + _DATA, 0, len(events) - 2)
    last_start = 0 if last_start < 0 else last_start + 2
    last = _frame_object(events[last_start:])
    if last is not None and last.get("usage") and not last.get("choices"):
        return Entry(True, events[:last_start], events[last_start:], DONE_FRAME, usage)
    usage_frame = b""
    first = _frame_object(events[: events.find(b"\n\n") + 2]) if events else None
    if usage and first is not None:
        head = {name: first[name] for name in _HEAD_FIELDS if name in first}
        usage_frame = _DATA + orjson.dumps({**head, "choices": [], "usage": usage}) + b"\n\n"
    return Entry(True, events, usage_frame, DONE_FRAME, usage)


def _frame_object(frame: bytes) -> dict[str, Any] | None:
    if not frame.startswith(_DATA):
        return None
    try:
        obj = orjson.loads(frame[len(_DATA) :])
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None
