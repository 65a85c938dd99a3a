"""Anthropic Messages API backends: chat requests translated both ways, `/v1/messages` and
`count_tokens` forwarded as they are.

    CHAT          chat body ─► translate.anthropic ─► POST {base}/v1/messages ─► chat reply/chunks
    MESSAGES      Messages body ─────────────────────► POST {base}/v1/messages ─► as received
    COUNT_TOKENS  ───────────────────────────────────► POST {base}/v1/messages/count_tokens

Errors: Anthropic's `{"type": "error", "error": {"type", "message"}}` bodies are read by
`http.status_error` like OpenAI's; 529 `overloaded_error` is a 5xx (retried, then 502),
`rate_limit_error` a 429 with its Retry-After, other 4xx pass through with their type. An
`error` event mid-stream, or an end before `message_stop`, is `UpstreamDisconnected`.

Order inside: the provider (session, credentials, contract methods), then the stream reader.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..config.schema import BackendConfig
from ..errors import UpstreamDisconnected
from ..translate.anthropic.common import ANTHROPIC_VERSION
from ..translate.anthropic.request import chat_to_messages
from ..translate.anthropic.response import message_to_chat
from ..translate.anthropic.stream import EventsToChunks
from . import http
from .base import Chunk, Headers, Operation, Reply
from .h1 import Response
from .sse import ServerSentEvent
from .stream import SSEStream

_SUPPORTED = frozenset({Operation.CHAT, Operation.MESSAGES, Operation.COUNT_TOKENS})


class AnthropicProvider(http.HTTPBackend):
    """A backend speaking Anthropic's Messages API under `base_url` (the host root)."""

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        base = config.effective_base_url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"  # SPEC 2: base_url is the host root; tolerate one that ends in /v1
        self._urls = {
            Operation.CHAT: base + "/messages",
            Operation.MESSAGES: base + "/messages",
            Operation.COUNT_TOKENS: base + "/messages/count_tokens",
        }

    def supports(self, op: Operation) -> bool:
        return op in _SUPPORTED

    def _credentials(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        return headers

    async def complete(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> Reply:
        upstream = chat_to_messages(body, body["model"]) if op is Operation.CHAT else body
        payload, obj = await self._post(self._urls[op], orjson.dumps(upstream), headers=headers)
        if op is Operation.CHAT:
            obj = message_to_chat(obj)
            return Reply(orjson.dumps(obj), obj)
        return Reply(payload, obj)

    async def open_stream(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> AnthropicStream:
        if op is Operation.CHAT:
            upstream = chat_to_messages(body, body["model"])
            translator: EventsToChunks | None = EventsToChunks()
        else:
            upstream, translator = body, None
        upstream["stream"] = True
        resp = await self._open(self._urls[op], orjson.dumps(upstream), headers=headers)
        return AnthropicStream(self.name, resp, translator)


class AnthropicStream(SSEStream):
    """Reads Anthropic events off one response, as chat chunks (with a translator) or as the
    events themselves (pass-through). `message_stop` ends it cleanly; so does EOF before any
    event (an empty stream); EOF anywhere else is a premature close."""

    __slots__ = ("_seen", "_translator")

    def __init__(self, backend: str, resp: Response, translator: EventsToChunks | None) -> None:
        super().__init__(backend, resp)
        self._translator = translator
        self._seen = False

    def _closed(self) -> list[Chunk] | None:
        if self._seen:
            raise UpstreamDisconnected(
                f"backend '{self._backend}' closed the stream before message_stop"
            )
        return super()._closed()

    def _event(self, event: ServerSentEvent, out: list[Chunk]) -> None:
        obj = self._json(event.data)
        kind = obj.get("type")
        if kind == "ping":
            return  # keep-alives toward the client are the relay's job
        if kind == "error":
            raise self._error_event(obj.get("error"))
        self._seen = True
        if kind == "message_stop":
            self._clean = True
        if self._translator is None:
            out.append(Chunk(obj, event.data))
        else:
            out.extend(Chunk(chunk) for chunk in self._translator.feed(obj))
