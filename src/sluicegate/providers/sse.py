"""Server-Sent Events decoding and encoding, with no I/O, tuned for the relay's hot path.

The decoder is fed whatever bytes one socket read produced and returns the complete events in
them; a partial event waits in the decoder for the next feed. Keeping all state in this object
(not in a generator frame) is what lets a caller abandon a read on a timeout and read again.
"""

from __future__ import annotations

from typing import NamedTuple


class ServerSentEvent(NamedTuple):
    """One dispatched event: its `event:` name (None for the default "message") and data."""

    event: str | None
    data: bytes


class SSEDecoder:
    """Incremental decoder for the SSE wire format (WHATWG HTML, 9.2.6)."""

    __slots__ = ("_data", "_event", "_pending", "_trailing_cr")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._trailing_cr = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if b"\r" in chunk or self._trailing_cr:
            chunk = self._normalize(chunk)
        buffer = self._pending + chunk if self._pending else chunk
        lines = buffer.split(b"\n")
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(ServerSentEvent(self._event, b"\n".join(self._data)))
                    self._data = []
                self._event = None
            elif line[0] == 0x3A:  # ":" comment
                continue
            else:
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")

    def _normalize(self, chunk: bytes) -> bytes:
        """Turn CRLF and lone CR into LF, also when a CRLF is split across two reads."""
        if self._trailing_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._trailing_cr = chunk.endswith(b"\r")
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


DONE_FRAME = b"data: [DONE]\n\n"
KEEPALIVE_FRAME = b": keep-alive\n\n"


def encode_data(data: bytes) -> bytes:
    """One `data:` frame; `data` must be a single line (compact JSON is)."""
    return b"data: " + data + b"\n\n"
