"""Splice: one continuation's chunks rewritten to continue the client's open stream.

    continuation chunk ─► same id, created, model as the stream's first chunk
                       ─► role dropped (the client has had its one role chunk)
                       ─► overlap trimmed: the client already holds `prefix + tail`

Overlap trimming. A target asked to continue `prefix` should answer only what follows it,
but some servers echo the whole prefix first. While the continuation's text is still a proper
prefix of `prefix`, its chunks are held back; the first chunk that settles it decides: text
that starts with the whole `prefix` is an echo and loses it, anything else is sent as is.
Then `tail` (text the client has but the target was not given: trailing whitespace stripped
for Anthropic) is trimmed from the start of what follows, as far as it matches. Only a whole
echo is recognised: a model that restarts with different words cannot be told from one that
continues, and guessing would lose text the client never had.
"""

from __future__ import annotations

from typing import Any

from ..providers.base import Chunk

# The fields every chunk of one client stream shares (the stream's first chunk sets them).
IDENT = ("id", "created", "model")


def choice_delta(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A chat chunk's first choice and its delta (None where the chunk has none)."""
    choices = obj.get("choices")
    if not choices or not isinstance(choices[0], dict):
        return None, None
    choice = choices[0]
    delta = choice.get("delta")
    return choice, delta if isinstance(delta, dict) else None


def _text(chunk: Chunk) -> str:
    _, delta = choice_delta(chunk.obj)
    content = delta.get("content") if delta else None
    return content if isinstance(content, str) else ""


class Splice:
    """The rewriting state of one continuation (a new one per continuation)."""

    __slots__ = ("_held", "_held_text", "_ident", "_prefix", "_tail")

    def __init__(self, ident: dict[str, Any], prefix: str, tail: str) -> None:
        self._ident = ident
        self._prefix = prefix
        self._tail = tail
        # None once decided; until then the chunks held back while an echo is possible.
        self._held: list[Chunk] | None = [] if prefix else None
        self._held_text = ""

    def feed(self, chunks: list[Chunk]) -> list[Chunk]:
        """The chunks to send for this batch (maybe none: held back, or emptied by trimming)."""
        out: list[Chunk] = []
        for chunk in chunks:
            self._rewrite(chunk)
            held = self._held
            if held is None:
                self._send(chunk, out)
                continue
            held.append(chunk)
            self._held_text += _text(chunk)
            choice, delta = choice_delta(chunk.obj)
            settled = choice is not None and (
                choice.get("finish_reason") is not None
                or (delta is not None and any(k != "content" and v for k, v in delta.items()))
            )
            text = self._held_text
            if settled or len(text) >= len(self._prefix) or not self._prefix.startswith(text):
                out.extend(self._decide())
        return out

    def flush(self) -> list[Chunk]:
        """At the continuation's clean end: whatever is still held back (not an echo)."""
        return self._decide() if self._held is not None else []

    def _decide(self) -> list[Chunk]:
        held, self._held = self._held or [], None
        skip = len(self._prefix) if self._held_text.startswith(self._prefix) else 0
        out: list[Chunk] = []
        for chunk in held:
            if skip:
                text = _text(chunk)
                cut = min(skip, len(text))
                skip -= cut
                if cut:
                    self._set_text(chunk, text[cut:])
            self._send(chunk, out)
        return out

    def _send(self, chunk: Chunk, out: list[Chunk]) -> None:
        """Trim what is left of `tail`, then keep the chunk unless it became empty."""
        choice, delta = choice_delta(chunk.obj)
        if delta is not None and self._tail:
            text = _text(chunk)
            same = 0
            while same < min(len(text), len(self._tail)) and text[same] == self._tail[same]:
                same += 1
            self._tail = self._tail[same:] if same == len(text) else ""
            if same:
                self._set_text(chunk, text[same:])
        if (
            choice is not None
            and delta is not None
            and not chunk.obj.get("usage")
            and not _worth_sending(choice, delta)
        ):
            return
        out.append(chunk)

    def _rewrite(self, chunk: Chunk) -> None:
        obj = chunk.obj
        for key in IDENT:
            if key in self._ident and obj.get(key) != self._ident[key]:
                obj[key] = self._ident[key]
        _, delta = choice_delta(obj)
        if delta is not None:
            delta.pop("role", None)
        chunk.touched()

    @staticmethod
    def _set_text(chunk: Chunk, text: str) -> None:
        _, delta = choice_delta(chunk.obj)
        if delta is not None:
            delta["content"] = text
            chunk.touched()


def _worth_sending(choice: dict[str, Any], delta: dict[str, Any]) -> bool:
    """A chunk that says nothing (empty delta, no finish, no usage) is left out."""
    if choice.get("finish_reason") is not None or choice.get("logprobs"):
        return True
    return any(value not in (None, "") for value in delta.values())
