"""The provider contract: how the gateway talks to one upstream backend, knowing nothing of it.

A provider takes an OpenAI-shaped request body (the canonical shape; translating providers
convert it) and returns either a whole reply or an opened stream of OpenAI-shaped chunks. It
raises only `errors.GatewayError` subclasses. Timeouts that span several reads (first token,
idle, total) are the caller's: a provider only bounds connecting.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import orjson

from ..config.schema import BackendConfig, Timeouts


class Operation(enum.Enum):
    """The upstream endpoint a request is for; the value is the path after the API's `/v1`.

    CHAT, COMPLETIONS and EMBEDDINGS take and give OpenAI shapes. MESSAGES and COUNT_TOKENS are
    Anthropic's own API, forwarded untranslated to the backends that speak it natively: their
    bodies, replies and stream chunks are Anthropic's (a chunk's `obj` is one stream event).
    RESPONSES is OpenAI's Responses API, likewise forwarded as is (a chunk is one Responses
    event), served only by `openai` backends configured with `responses: native`.
    """

    CHAT = "/chat/completions"
    COMPLETIONS = "/completions"
    EMBEDDINGS = "/embeddings"
    MESSAGES = "/messages"
    COUNT_TOKENS = "/messages/count_tokens"
    RESPONSES = "/responses"


Headers: TypeAlias = Mapping[str, str]

# The operations of the OpenAI API, which OpenAI-shaped providers serve.
OPENAI_OPERATIONS = frozenset({Operation.CHAT, Operation.COMPLETIONS, Operation.EMBEDDINGS})


class Chunk:
    """One stream event in OpenAI chunk shape (an Anthropic event for `Operation.MESSAGES`).

    `raw` is the upstream's own JSON text, kept so an untouched chunk is forwarded without
    re-encoding; whoever mutates `obj` must call `touched()`.
    """

    __slots__ = ("obj", "raw")

    def __init__(self, obj: dict[str, Any], raw: bytes | None = None) -> None:
        self.obj = obj
        self.raw = raw

    def touched(self) -> None:
        self.raw = None

    def encoded(self) -> bytes:
        if self.raw is None:
            self.raw = orjson.dumps(self.obj)
        return self.raw


@dataclass(slots=True)
class Reply:
    """A whole (non-stream) upstream answer: its JSON text and parsed object."""

    body: bytes
    obj: dict[str, Any]


class UpstreamStream(Protocol):
    """An upstream stream whose response headers said 200."""

    async def read(self) -> list[Chunk] | None:
        """The chunks of the next upstream read (never empty), or None after a clean end.

        Raises `UpstreamDisconnected` on a reset, a premature close or an upstream error event.
        Cancelling a pending read loses nothing: the next call resumes where it stopped.
        """
        ...

    async def aclose(self) -> None:
        """Release the connection; closes it (no reuse) unless the stream ended cleanly."""
        ...


class Provider(Protocol):
    """One configured backend."""

    name: str
    config: BackendConfig

    @property
    def timeouts(self) -> Timeouts: ...

    def supports(self, op: Operation) -> bool: ...

    # `headers`: per-request headers on top of the backend's own (the W3C trace context);
    # a provider that makes no HTTP request ignores them.
    async def complete(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> Reply: ...

    async def open_stream(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> UpstreamStream: ...

    async def aclose(self) -> None: ...
