"""The stream window: output guardrails over a stream's text, across chunk boundaries.

    chunk texts:   "My card is 4111 1111"   " 1111 1111, ok"
    window:        [ ... last 256 chars ... ][ new delta ]  ← every guardrail scans this
                                             ▲ a match that ends in the new delta blocks it
                                               before any of the delta is sent

Each lane (a choice, or a content block) keeps the last `WINDOW_CHARS` characters it sent;
a new delta is scanned joined to them, so a match split across chunks is caught, as long as
it is at most `WINDOW_CHARS` long. In a stream every output guardrail blocks, masking ones
included (docs/decisions.md: masking would mean holding text back); the part of a match sent
before its last chunk has reached the client.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import ContentFiltered
from .base import Guardrail

WINDOW_CHARS = 256


def _chat(obj: dict[str, Any]) -> Iterator[tuple[int, str]]:
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield choice.get("index", 0), content


def _completions(obj: dict[str, Any]) -> Iterator[tuple[int, str]]:
    for choice in obj.get("choices") or ():
        text = choice.get("text") if isinstance(choice, dict) else None
        if isinstance(text, str) and text:
            yield choice.get("index", 0), text


def _messages(obj: dict[str, Any]) -> Iterator[tuple[int, str]]:
    if obj.get("type") == "content_block_delta":
        delta = obj.get("delta")
        if isinstance(delta, dict) and delta.get("type") == "text_delta":
            text = delta.get("text")
            if isinstance(text, str) and text:
                yield obj.get("index", 0), text


def _responses(obj: dict[str, Any]) -> Iterator[tuple[int, str]]:
    if obj.get("type") == "response.output_text.delta":
        text = obj.get("delta")
        if isinstance(text, str) and text:
            yield obj.get("output_index", 0) * 1000 + obj.get("content_index", 0), text


# By upstream operation (`providers.base.Operation.value`): the chunk shape it streams.
_CHUNK_TEXTS = {
    "/chat/completions": _chat,
    "/completions": _completions,
    "/messages": _messages,
    "/responses": _responses,
}


class StreamWindow:
    """Scans one stream's chunks; `feed` raises `ContentFiltered` when a guardrail matches."""

    __slots__ = ("_guardrails", "_tails", "_texts_of")

    def __init__(self, guardrails: Sequence[Guardrail], operation: str) -> None:
        self._guardrails = guardrails
        self._texts_of = _CHUNK_TEXTS.get(operation)
        self._tails: dict[int, str] = {}

    def read_as(self, operation: str) -> None:
        """Go on with chunks of another operation's shape (a /v1/responses stream continued
        through chat, SPEC 4.9). Each wire's first text lane is 0, so the tails carry over
        and a match split across the switch is still caught."""
        self._texts_of = _CHUNK_TEXTS.get(operation)

    def feed(self, obj: dict[str, Any]) -> None:
        if self._texts_of is None:
            return
        for lane, text in self._texts_of(obj):
            window = self._tails.get(lane, "") + text
            for guardrail in self._guardrails:
                if guardrail.matches(window):
                    raise ContentFiltered(guardrail.name)
            self._tails[lane] = window[-WINDOW_CHARS:]
