"""Resume on Anthropic's own Messages events (SPEC 4.9), for /v1/messages streams an
`anthropic` backend serves untranslated: what the stream has sent (`MessagesTrack`) and the
shape of its splice (`MessagesShape`).

    continuation event          sent to the client as
    message_start               nothing (the client has its one); its usage is kept for the end
    content_block_start (text)  nothing when the client's text block is still open: the
      of its first block        continued text goes on in that block (its index)
    any other first block       a `content_block_stop` for the client's open text block, then
                                the block, numbered after the client's last block
    later blocks, deltas, stops their index moved by the same offset
    message_delta               its usage = the continuation's whole usage plus the tries
                                before it (what the client is charged for)
    message_stop                as is: the one end

A `tool_use` or `thinking` block that went out blocks resume (half a tool input or another
model's thoughts cannot be continued); so does a `stop_reason` (the answer was whole).
"""

from __future__ import annotations

from typing import Any

from ..config.schema import BackendConfig
from ..providers.base import Chunk, Operation
from ..providers.continuation import continue_body
from ..record import Usage
from ..routing.table import Target
from .endpoint import Prepare
from .splice import Call, Splice, same_wire, summed

_BLOCKING_DELTAS = frozenset({"input_json_delta", "thinking_delta", "signature_delta"})


def _block_type(obj: dict[str, Any]) -> Any:
    block = obj.get("content_block")
    return block.get("type") if isinstance(block, dict) else None


def _text_delta(obj: dict[str, Any]) -> dict[str, Any] | None:
    delta = obj.get("delta")
    if obj.get("type") == "content_block_delta" and isinstance(delta, dict):
        return delta if delta.get("type") == "text_delta" else None
    return None


class MessagesTrack:
    """What one forwarded Messages stream has sent; `note` is on the relay's hot path when
    resume is on."""

    __slots__ = ("_last", "_open", "blocked", "finished", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []  # text_delta text sent to the client, in order
        self.blocked = False
        self.finished = False
        self._open: int | None = None  # index of the client's open text block
        self._last = -1  # the highest block index the client has seen

    def note(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "content_block_delta":
            delta = obj.get("delta")
            if not isinstance(delta, dict):
                return
            if delta.get("type") == "text_delta":
                text = delta.get("text")
                if isinstance(text, str) and text:
                    self.parts.append(text)
            elif delta.get("type") in _BLOCKING_DELTAS:
                self.blocked = True
        elif kind == "content_block_start":
            index = obj.get("index")
            if type(index) is int:
                self._last = max(self._last, index)
            if _block_type(obj) == "text":
                self._open = index if type(index) is int else None
            else:  # tool_use, thinking, redacted_thinking, server tools
                self.blocked = True
        elif kind == "content_block_stop":
            if obj.get("index") == self._open:
                self._open = None
        elif kind == "message_stop" or (
            kind == "message_delta" and (obj.get("delta") or {}).get("stop_reason")
        ):
            self.finished = True

    def call(self, prepare: Prepare, request: dict[str, Any], target: Target) -> Call | None:
        return same_wire(prepare, request, target, Operation.MESSAGES)

    def body(
        self, config: BackendConfig, body: dict[str, Any], text: str
    ) -> tuple[dict[str, Any], str]:
        return continue_body(config, body, text)  # prefill: an assistant turn last

    def splice(self, prefix: str, tail: str, carried: Usage | None) -> Splice:
        shape = MessagesShape(self._open, self._last + 1, carried)
        return Splice(shape, prefix, tail)


class MessagesShape:
    """A continuation's Messages events, renumbered onto the client's stream."""

    __slots__ = ("_carried", "_next", "_offset", "_open", "_usage")

    def __init__(self, open_text: int | None, next_index: int, carried: Usage | None) -> None:
        self._open = open_text
        self._next = next_index
        self._carried = carried
        self._offset: int | None = None  # client index - continuation index, once known
        self._usage: dict[str, Any] = {}  # from the continuation's message_start

    def rewrite(self, chunk: Chunk) -> list[Chunk]:
        obj = chunk.obj
        kind = obj.get("type")
        if kind == "message_start":
            message = obj.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                self._usage = {k: v for k, v in usage.items() if v is not None}
            return []
        if kind == "ping":
            return []
        if kind == "message_delta":
            usage = obj.get("usage")
            if isinstance(usage, dict):
                usage = {**self._usage, **{k: v for k, v in usage.items() if v is not None}}
            else:
                usage = dict(self._usage)
            # Whole, so nothing of the broken try's message_start lingers where the front
            # door merges usage events.
            usage.setdefault("cache_creation_input_tokens", 0)
            usage.setdefault("cache_read_input_tokens", 0)
            summed(usage, self._carried, "input_tokens", "output_tokens")
            obj["usage"] = usage
            chunk.touched()
            return [chunk]
        index = obj.get("index")
        if type(index) is not int:
            return [chunk]
        out = []
        if self._offset is None:
            if self._open is not None and _block_type(obj) == "text":
                self._offset = self._open - index
                return []  # continued in the client's open block
            if kind == "content_block_start" and self._open is not None:
                out.append(Chunk({"type": "content_block_stop", "index": self._open}))
            base = self._next if kind == "content_block_start" else self._open
            self._offset = (base if base is not None else self._next) - index
        if self._offset:
            obj["index"] = index + self._offset
            chunk.touched()
        out.append(chunk)
        return out

    def piece(self, obj: dict[str, Any]) -> tuple[str, bool]:
        delta = _text_delta(obj)
        if delta is not None:
            text = delta.get("text")
            return (text if isinstance(text, str) else ""), False
        # A new text block may still hold an echo; anything else settles it.
        return "", not (obj.get("type") == "content_block_start" and _block_type(obj) == "text")

    def set_text(self, chunk: Chunk, text: str) -> None:
        delta = _text_delta(chunk.obj)
        if delta is not None:
            delta["text"] = text
            chunk.touched()

    def empty(self, obj: dict[str, Any]) -> bool:
        delta = _text_delta(obj)
        return delta is not None and not delta.get("text")
