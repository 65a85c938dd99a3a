"""The SSE frames a stored stream is made of, read back as objects and written from them,
and the pieces a converted stream splits its text into."""

from __future__ import annotations

from typing import Any

import orjson

from ...providers.sse import SSEDecoder, encode_data

# A converted stream sends text in pieces of this many characters: a few events per answer
# (clients that render as they read still see a stream), not one per character. A text longer
# than MAX_PIECES pieces is cut in MAX_PIECES larger ones, so that the work of converting a
# large answer stays bounded by its size, not by the number of events.
PIECE_CHARS = 64
MAX_PIECES = 64


def objects(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of every `data:` frame in `body` (`[DONE]` and non-objects left out)."""
    found = []
    for event in SSEDecoder().feed(body):
        if event.data == b"[DONE]":
            continue
        obj = orjson.loads(event.data)
        if isinstance(obj, dict):
            found.append(obj)
    return found


def data_frame(obj: dict[str, Any]) -> bytes:
    """An OpenAI frame: `data: {json}`."""
    return encode_data(orjson.dumps(obj))


def named_frame(obj: dict[str, Any]) -> bytes:
    """An Anthropic or Responses frame: `event: <type>` then `data: {json}`."""
    return b"event: " + str(obj["type"]).encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def pieces(text: Any) -> list[str]:
    """`text` cut into PIECE_CHARS-character pieces, at most MAX_PIECES (none for an empty or
    absent text)."""
    if not isinstance(text, str):
        return []
    size = max(PIECE_CHARS, -(-len(text) // MAX_PIECES))
    return [text[i : i + size] for i in range(0, len(text), size)]
