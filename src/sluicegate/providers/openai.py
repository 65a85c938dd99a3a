"""OpenAI-compatible backends (OpenAI, vLLM, Ollama, llama.cpp, ...): requests go out as they
came in, answers come back as the upstream's own bytes.

Order inside: the provider (session, credentials, contract methods), then the stream reader.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from ..config.schema import BackendConfig, Timeouts
from ..errors import UpstreamConnectError, UpstreamDisconnected
from . import http
from .base import OPENAI_OPERATIONS, Chunk, Operation, Reply
from .sse import SSEDecoder

_DONE = b"[DONE]"


class OpenAIProvider:
    """A backend speaking the OpenAI HTTP API under `base_url` (which ends in `/v1`)."""

    def __init__(self, config: BackendConfig) -> None:
        self.name = config.name
        self.config = config
        self._base_url = config.effective_base_url.rstrip("/")
        self._ops = OPENAI_OPERATIONS
        if config.responses == "native":  # the config allows it on openai backends only
            self._ops = OPENAI_OPERATIONS | {Operation.RESPONSES}
        self._urls = {op: self._base_url + op.value for op in self._ops}
        self._session: aiohttp.ClientSession | None = None

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    def supports(self, op: Operation) -> bool:
        return op in self._ops

    def _credentials(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    def _url(self, op: Operation, body: dict[str, Any]) -> str:
        return self._urls[op]

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running loop of the worker that uses it.
        if self._session is None:
            self._session = http.new_session(self.config, self._credentials())
        return self._session

    async def complete(self, op: Operation, body: dict[str, Any]) -> Reply:
        with http.before_response(self.name):
            async with self.session.post(self._url(op, body), data=orjson.dumps(body)) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    raise http.status_error(resp.status, payload, resp.headers)
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise UpstreamConnectError(f"backend '{self.name}' sent invalid JSON") from exc
        if not isinstance(obj, dict):
            raise UpstreamConnectError(f"backend '{self.name}' sent a non-object JSON body")
        return Reply(payload, obj)

    async def open_stream(self, op: Operation, body: dict[str, Any]) -> OpenAIStream:
        with http.before_response(self.name):
            resp = await self.session.post(self._url(op, body), data=orjson.dumps(body))
            if resp.status >= 400:
                try:
                    payload = await resp.read()
                finally:
                    resp.release()
                raise http.status_error(resp.status, payload, resp.headers)
        return OpenAIStream(self.name, resp)

    async def aclose(self) -> None:
        if self._session is not None:
            await http.close_session(self._session)
            self._session = None


class OpenAIStream:
    """Reads OpenAI `data:` events off one response; `[DONE]` and EOF both end it cleanly."""

    __slots__ = ("_backend", "_clean", "_decoder", "_pending_error", "_resp")

    def __init__(self, backend: str, resp: aiohttp.ClientResponse) -> None:
        self._backend = backend
        self._resp = resp
        self._decoder = SSEDecoder()
        self._clean = False
        # A failure found behind good chunks of the same read: raised on the next read, so
        # the client gets every chunk that preceded it.
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
                self._clean = True
                return None
            chunks: list[Chunk] = []
            for event in self._decoder.feed(data):
                if event.data == _DONE:
                    self._clean = True
                    if chunks:
                        return chunks
                    await self._drain()
                    return None
                try:
                    chunks.append(self._chunk(event.event, event.data))
                except UpstreamDisconnected as exc:
                    if not chunks:
                        raise
                    self._pending_error = exc
                    return chunks
            if chunks:
                return chunks

    def _chunk(self, event: str | None, data: bytes) -> Chunk:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event") from exc
        if not isinstance(obj, dict):
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event")
        if event == "error" or "error" in obj:
            error = obj.get("error", obj)
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamDisconnected(f"backend '{self._backend}' sent an error event: {message}")
        return Chunk(obj, data)

    async def _drain(self) -> None:
        """Read to EOF after `[DONE]` so the connection can go back to the pool."""
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
