"""Resume on OpenAI's chunk wires (SPEC 4.9): what a chat or legacy completions stream has
sent (`OpenAITrack`), and the shape of their splice (`OpenAIShape`).

    chat         text in choices[0].delta.content; a tool call or reasoning blocks resume;
                 continued with the text as the last assistant message
    completions  text in choices[0].text; continued with the original prompt + the text
                 (a completions prompt has no messages)

Both: every chunk gets the stream's first `id`, `created`, `model`; a continuation's role is
dropped; its usage (the usage-only chunk) is summed with the tries before it.
"""

from __future__ import annotations

from typing import Any

from ..config.schema import BackendConfig
from ..providers.base import Chunk, Operation
from ..providers.continuation import continue_body, continue_prompt
from ..record import Usage
from ..routing.table import Target
from .endpoint import Prepare
from .splice import Call, Splice, same_wire, summed

# The fields every chunk of one client stream shares (the stream's first chunk sets them).
IDENT = ("id", "created", "model")
_BLOCKING = ("tool_calls", "function_call", "reasoning", "reasoning_content")


def _choice(obj: dict[str, Any]) -> dict[str, Any] | None:
    choices = obj.get("choices")
    if not choices or not isinstance(choices[0], dict):
        return None
    return choices[0]


def _delta(choice: dict[str, Any] | None) -> dict[str, Any] | None:
    delta = choice.get("delta") if choice is not None else None
    return delta if isinstance(delta, dict) else None


class OpenAITrack:
    """What one chat (or, with `completions`, legacy completions) stream has sent; `note`
    is on the relay's hot path when resume is on."""

    __slots__ = ("_completions", "_ident", "blocked", "finished", "parts")

    def __init__(self, completions: bool) -> None:
        self._completions = completions
        self._ident: dict[str, Any] = {}
        self.parts: list[str] = []  # content text sent to the client, in order
        self.blocked = False  # a tool call or reasoning went out: never resumed
        self.finished = False  # a finish_reason went out: nothing left to continue

    def note(self, obj: dict[str, Any]) -> None:
        if not self._ident:
            self._ident = {key: obj[key] for key in IDENT if key in obj}
        choice = _choice(obj)
        if choice is None:
            return
        if choice.get("finish_reason") is not None:
            self.finished = True
        if self._completions:
            text = choice.get("text")
            if isinstance(text, str) and text:
                self.parts.append(text)
            return
        delta = _delta(choice)
        if delta is None:
            return
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.parts.append(content)
        if any(delta.get(key) for key in _BLOCKING):
            self.blocked = True

    def call(self, prepare: Prepare, request: dict[str, Any], target: Target) -> Call | None:
        op = Operation.COMPLETIONS if self._completions else Operation.CHAT
        return same_wire(prepare, request, target, op)

    def body(
        self, config: BackendConfig, body: dict[str, Any], text: str
    ) -> tuple[dict[str, Any], str]:
        if self._completions:
            return continue_prompt(body, text)
        return continue_body(config, body, text)

    def splice(self, prefix: str, tail: str, carried: Usage | None) -> Splice:
        return Splice(OpenAIShape(self._ident, self._completions, carried), prefix, tail)


class OpenAIShape:
    """Chat or completions chunks, rewritten onto the client's stream."""

    __slots__ = ("_carried", "_completions", "_ident")

    def __init__(self, ident: dict[str, Any], completions: bool, carried: Usage | None) -> None:
        self._ident = ident
        self._completions = completions
        self._carried = carried

    def rewrite(self, chunk: Chunk) -> list[Chunk]:
        obj = chunk.obj
        for key in IDENT:
            if key in self._ident and obj.get(key) != self._ident[key]:
                obj[key] = self._ident[key]
        delta = _delta(_choice(obj))
        if delta is not None:
            delta.pop("role", None)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            summed(usage, self._carried, "prompt_tokens", "completion_tokens")
        chunk.touched()
        return [chunk]

    def piece(self, obj: dict[str, Any]) -> tuple[str, bool]:
        choice = _choice(obj)
        if choice is None:
            return "", False
        settles = choice.get("finish_reason") is not None
        if self._completions:
            text = choice.get("text")
            return (text if isinstance(text, str) else ""), settles
        delta = _delta(choice)
        if delta is None:
            return "", settles
        content = delta.get("content")
        settles = settles or any(k != "content" and v for k, v in delta.items())
        return (content if isinstance(content, str) else ""), settles

    def set_text(self, chunk: Chunk, text: str) -> None:
        choice = _choice(chunk.obj)
        if choice is None:
            return
        if self._completions:
            choice["text"] = text
        elif (delta := _delta(choice)) is not None:
            delta["content"] = text
        chunk.touched()

    def empty(self, obj: dict[str, Any]) -> bool:
        choice = _choice(obj)
        if choice is None or obj.get("usage"):
            return False
        if choice.get("finish_reason") is not None or choice.get("logprobs"):
            return False
        if self._completions:
            return not choice.get("text")
        delta = _delta(choice)
        return delta is not None and all(value in (None, "") for value in delta.values())
