"""A stored answer served to a request of the other kind: a JSON answer as the front door's
event stream, a stored stream as its JSON answer (SPEC 12: "answered from the cache, stream or
not").

    openai.py     /chat/completions and /completions
    messages.py   /messages (Anthropic's Messages events)
    responses.py  /responses (OpenAI's Responses events)
    frames.py     the SSE frames read back and written, the pieces text is cut into

An entry is stored as the client received it; only a hit of the other kind pays for a
conversion (a parse and a dump of the answer), a hit of the same kind is replayed as stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from ..entry import Entry
from . import messages, openai, responses

log = logging.getLogger("sluicegate.cache")

Convert = Callable[[Entry], Entry]
# front door (without /v1) → (JSON → stream, stream → JSON)
_DOORS: dict[str, tuple[Convert, Convert]] = {
    "/chat/completions": (openai.chat_to_stream, openai.chat_from_stream),
    "/completions": (openai.completion_to_stream, openai.completion_from_stream),
    "/messages": (messages.to_stream, messages.from_stream),
    "/responses": (responses.to_stream, responses.from_stream),
}


def convert(path: str, entry: Entry, stream: bool) -> Entry | None:
    """`entry` in the form a `stream` (or non-stream) request at `path` is sent, or None when
    that door has no such form or the entry cannot be read (the request is then a miss)."""
    if entry.stream == stream:
        return entry
    door = _DOORS.get(path)
    if door is None:
        return None
    try:
        return door[0](entry) if stream else door[1](entry)
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError, KeyError, IndexError):
        # A stored answer this code cannot read (another shape than the upstream's usual):
        # answered by the upstream instead, and the new answer replaces it.
        log.warning("cache entry at %s not convertible; answered as a miss", path)
        return None
