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

import asyncio
from typing import Any

import aiohttp
import orjson

from ..config.schema import BackendConfig, Timeouts
from ..errors import UpstreamConnectError, UpstreamDisconnected
from ..translate.anthropic.common import ANTHROPIC_VERSION
from ..translate.anthropic.request import chat_to_messages
from ..translate.anthropic.response import message_to_chat
from ..translate.anthropic.stream import EventsToChunks
from . import http
from .base import Chunk, Operation, Reply
from .sse import SSEDecoder

_SUPPORTED = frozenset({Operation.CHAT, Operation.MESSAGES, Operation.COUNT_TOKENS})


class AnthropicProvider:
    """A backend speaking Anthropic's Messages API under `base_url` (the host root)."""

    def __init__(self, config: BackendConfig) -> None:
        self.name = config.name
        self.config = config
        base = config.effective_base_url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"  # SPEC 2: base_url is the host root; tolerate one that ends in /v1
        self._urls = {
            Operation.CHAT: base + "/messages",
            Operation.MESSAGES: base + "/messages",
            Operation.COUNT_TOKENS: base + "/messages/count_tokens",
        }
        self._session: aiohttp.ClientSession | None = None

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    def supports(self, op: Operation) -> bool:
        return op in _SUPPORTED

    def _credentials(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        return headers

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop of the worker that uses it.
        if self._session is None:
            self._session = http.new_session(self.config, self._credentials())
        return self._session

    async def complete(self, op: Operation, body: dict[str, Any]) -> Reply:
        upstream = chat_to_messages(body, body["model"]) if op is Operation.CHAT else body
        with http.before_response(self.name):
            async with self.session.post(self._urls[op], data=orjson.dumps(upstream)) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    raise http.status_error(resp.status, payload, resp.headers)
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise UpstreamConnectError(f"backend '{self.name}' sent invalid JSON") from exc
        if not isinstance(obj, dict):
            raise UpstreamConnectError(f"backend '{self.name}' sent a non-object JSON body")
        if op is Operation.CHAT:
            obj = message_to_chat(obj)
            return Reply(orjson.dumps(obj), obj)
        return Reply(payload, obj)

    async def open_stream(self, op: Operation, body: dict[str, Any]) -> AnthropicStream:
        if op is Operation.CHAT:
            upstream = chat_to_messages(body, body["model"])
            translator: EventsToChunks | None = EventsToChunks()
        else:
            upstream, translator = body, None
        upstream["stream"] = True
        with http.before_response(self.name):
            resp = await self.session.post(self._urls[op], data=orjson.dumps(upstream))
            if resp.status >= 400:
                try:
                    payload = await resp.read()
                finally:
                    resp.release()
                raise http.status_error(resp.status, payload, resp.headers)
        return AnthropicStream(self.name, resp, translator)

    async def aclose(self) -> None:
        if self._session is not None:
            await http.close_session(self._session)
            self._session = None


class AnthropicStream:
    """Reads Anthropic events off one response, as chat chunks (with a translator) or as the
    events themselves (pass-through). `message_stop` ends it cleanly; so does EOF before any
    event (an empty stream); EOF anywhere else is a premature close."""

    __slots__ = (
        "_backend",
        "_clean",
        "_decoder",
        "_pending_error",
        "_resp",
        "_seen",
        "_translator",
    )

    def __init__(
        self, backend: str, resp: aiohttp.ClientResponse, translator: EventsToChunks | None
    ) -> None:
        self._backend = backend
        self._resp = resp
        self._decoder = SSEDecoder()
        self._translator = translator
        self._clean = False
        self._seen = False
        # A failure found behind good chunks of the same read: raised on the next read.
        self._pending_error: UpstreamDisconnected | None = None

    async def read(self) -> list[Chunk] | None:
        if self._pending_error is not None:
            raise self._pending_error
        if self._clean:
            await self._drain()
            return None
        content = self._resp.content
        while True:
            with http.in_stream(self._backend):
                data = await content.readany()
            if not data:
                if self._seen:
                    raise UpstreamDisconnected(
                        f"backend '{self._backend}' closed the stream before message_stop"
                    )
                self._clean = True
                return None
            chunks: list[Chunk] = []
            for event in self._decoder.feed(data):
                try:
                    self._event(event.data, chunks)
                except UpstreamDisconnected as exc:
                    if not chunks:
                        raise
                    self._pending_error = exc
                    return chunks
                if self._clean:
                    break
            if chunks:
                return chunks
            if self._clean:
                await self._drain()
                return None

    def _event(self, data: bytes, out: list[Chunk]) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event") from exc
        if not isinstance(obj, dict):
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event")
        kind = obj.get("type")
        if kind == "ping":
            return  # keep-alives toward the client are the relay's job
        if kind == "error":
            error = obj.get("error")
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamDisconnected(f"backend '{self._backend}' sent an error event: {message}")
        self._seen = True
        if kind == "message_stop":
            self._clean = True
        if self._translator is None:
            out.append(Chunk(obj, data))
        else:
            out.extend(Chunk(chunk) for chunk in self._translator.feed(obj))

    async def _drain(self) -> None:
        """Read to EOF after `message_stop` so the connection can go back to the pool."""
        content = self._resp.content
        try:
            async with asyncio.timeout(1.0):
                while await content.readany():
                    pass
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass  # aclose() sees the stream is not at EOF and closes the connection

    async def aclose(self) -> None:
        if self._clean and self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()
