"""Entry: one stored answer as the bytes a client was sent, and its packed form for Redis.

A stream is kept as `body` (every event but the optional usage event and the end), `usage_frame`
(OpenAI's usage-only chunk, sent only to clients that asked for it) and `end` (`data: [DONE]`,
or empty for APIs whose last event is part of the body). A JSON answer is `body` alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

_MAGIC = b"SGC1"
_HEAD = struct.Struct("!?III")


@dataclass(frozen=True, slots=True)
class Entry:
    stream: bool
    body: bytes
    usage_frame: bytes = b""
    end: bytes = b""
    usage: dict[str, Any] | None = None

    def payload(self, wants_usage: bool) -> bytes:
        """What a hit sends: the body, the usage event if the client asked, the end."""
        if wants_usage and self.usage_frame:
            return self.body + self.usage_frame + self.end
        return self.body + self.end if self.end else self.body

    @property
    def size(self) -> int:
        return len(self.body) + len(self.usage_frame) + len(self.end)

    def pack(self) -> bytes:
        """Length-prefixed bytes: no JSON round trip of the (possibly large) body."""
        usage = orjson.dumps(self.usage) if self.usage is not None else b""
        head = _HEAD.pack(self.stream, len(self.body), len(self.usage_frame), len(self.end))
        return b"".join((_MAGIC, head, self.body, self.usage_frame, self.end, usage))


def unpack(data: bytes) -> Entry | None:
    """The Entry packed in `data`, or None if it is not one (another version, corrupt)."""
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _HEAD.size:
        return None
    stream, n_body, n_usage, n_end = _HEAD.unpack_from(data, len(_MAGIC))
    start = len(_MAGIC) + _HEAD.size
    body_end = start + n_body
    usage_end = body_end + n_usage
    end_end = usage_end + n_end
    if end_end > len(data):
        return None
    rest = data[end_end:]
    try:
        usage = orjson.loads(rest) if rest else None
    except orjson.JSONDecodeError:
        return None
    return Entry(
        stream,
        data[start:body_end],
        data[body_end:usage_end],
        data[usage_end:end_end],
        usage if isinstance(usage, dict) else None,
    )
