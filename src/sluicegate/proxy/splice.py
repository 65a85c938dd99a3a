"""Splice: one continuation's events rewritten to continue the client's open stream (SPEC 4.9),
whatever the wire; a `Shape` says where the text, ids and usage sit in that wire's events.

    continuation event ─► Shape.rewrite: the stream's ids, no second opening (role chunk,
                          message_start, ...), indices moved onto the client's, usage summed
                          over the tries; an event may be dropped or become two
                       ─► overlap trimmed: the client already holds `prefix + tail`

Overlap trimming. A target asked to continue `prefix` should answer only what follows it,
but some servers echo the whole prefix first. While the continuation's text is still a proper
prefix of `prefix`, its events are held back; the first event that settles it decides: text
that starts with the whole `prefix` is an echo and loses it, anything else is sent as is.
Then `tail` (text the client has but the target was not given: trailing whitespace stripped
for Anthropic) is trimmed from the start of what follows, as far as it matches. Only a whole
echo is recognised: a model that restarts with different words cannot be told from one that
continues, and guessing would lose text the client never had.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..providers.base import Chunk, Operation, Reply
from ..record import Usage
from ..routing.table import Target
from .endpoint import Prepare

Call = tuple[Operation, dict[str, Any]]


def same_wire(
    prepare: Prepare, request: dict[str, Any], target: Target, op: Operation
) -> Call | None:
    """What `target` would be asked for `request`, when it answers in `op`'s wire (a
    continuation's events must be spliceable into the client's); else None."""
    call = prepare(request, target)
    if call is None or isinstance(call, Reply) or call[0] is not op:
        return None
    return call


class Shape(Protocol):
    """One wire format's side of a splice (`splice_openai.py`, `splice_anthropic.py`)."""

    def rewrite(self, chunk: Chunk) -> list[Chunk]:
        """The events to send for one continuation event, before trimming (maybe none)."""
        ...

    def piece(self, obj: dict[str, Any]) -> tuple[str, bool]:
        """The continued text an event carries, and whether it settles an echo (anything
        but a piece of text: a finish, a tool call, the end of the text block)."""
        ...

    def set_text(self, chunk: Chunk, text: str) -> None: ...

    def empty(self, obj: dict[str, Any]) -> bool:
        """Whether the event says nothing once trimmed (then it is left out)."""
        ...


def summed(usage: dict[str, Any], carried: Usage | None, prompt: str, completion: str) -> bool:
    """Add the tries before the continuation to a usage object the client will see (its
    `prompt` and `completion` counts, and `total_tokens` where present); True if it did."""
    if carried is None:
        return False
    usage[prompt] = _int(usage.get(prompt)) + carried.prompt_tokens
    usage[completion] = _int(usage.get(completion)) + carried.completion_tokens
    if "total_tokens" in usage:
        usage["total_tokens"] = _int(usage.get("total_tokens")) + carried.total_tokens
    return True


def _int(value: object) -> int:
    return value if type(value) is int else 0


class Splice:
    """The rewriting state of one continuation (a new one per continuation)."""

    __slots__ = ("_held", "_held_text", "_prefix", "_shape", "_tail")

    def __init__(self, shape: Shape, prefix: str, tail: str) -> None:
        self._shape = shape
        self._prefix = prefix
        self._tail = tail
        # None once decided; until then the events held back while an echo is possible.
        self._held: list[Chunk] | None = [] if prefix else None
        self._held_text = ""

    def feed(self, chunks: list[Chunk]) -> list[Chunk]:
        """The events to send for this batch (maybe none: held back, or emptied by trimming)."""
        out: list[Chunk] = []
        for chunk in chunks:
            for event in self._shape.rewrite(chunk):
                self._one(event, out)
        return out

    def flush(self) -> list[Chunk]:
        """At the continuation's clean end: whatever is still held back (not an echo)."""
        return self._decide() if self._held is not None else []

    def _one(self, chunk: Chunk, out: list[Chunk]) -> None:
        held = self._held
        if held is None:
            self._send(chunk, out)
            return
        held.append(chunk)
        text, settles = self._shape.piece(chunk.obj)
        self._held_text += text
        held_text = self._held_text
        if settles or len(held_text) >= len(self._prefix) or not self._prefix.startswith(held_text):
            out.extend(self._decide())

    def _decide(self) -> list[Chunk]:
        held, self._held = self._held or [], None
        skip = len(self._prefix) if self._held_text.startswith(self._prefix) else 0
        out: list[Chunk] = []
        for chunk in held:
            if skip:
                text, _ = self._shape.piece(chunk.obj)
                cut = min(skip, len(text))
                skip -= cut
                if cut:
                    self._shape.set_text(chunk, text[cut:])
            self._send(chunk, out)
        return out

    def _send(self, chunk: Chunk, out: list[Chunk]) -> None:
        """Trim what is left of `tail`, then keep the event unless it became empty."""
        shape = self._shape
        if self._tail:
            text, _ = shape.piece(chunk.obj)
            same = 0
            while same < min(len(text), len(self._tail)) and text[same] == self._tail[same]:
                same += 1
            if text:
                self._tail = self._tail[same:] if same == len(text) else ""
            if same:
                shape.set_text(chunk, text[same:])
        if not shape.empty(chunk.obj):
            out.append(chunk)
