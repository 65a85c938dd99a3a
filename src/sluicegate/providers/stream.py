"""SSEStream: the read loop every SSE-speaking provider shares; subclasses only say what one
event becomes (`_event`) and what the upstream closing means (`_closed`).

    read() ─► pending failure? raise it ─► clean end seen? drain to EOF, None
       │
       ▼ readany() ─► b"" (EOF) ─────────► _closed(): None (clean) | last chunks | raise
       │ bytes
       ▼ decode events ─► _event(event, out) appends chunks, may mark the clean end
                            │ raises UpstreamDisconnected
                            └─► after good chunks of this read: keep it for the next read()

A failure found behind good chunks of the same read is raised one read later, so the client
gets every chunk that preceded it (decision 8). Cancelling a pending read loses nothing: the
decoder keeps its state in this object.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ..errors import UpstreamDisconnected
from . import http
from .base import Chunk
from .h1 import Response
from .sse import ServerSentEvent, SSEDecoder

# Error-event types and codes (OpenAI's and Anthropic's) that blame the request, not the
# upstream: another target asked to continue it would refuse it the same way.
_REQUEST_FAULTS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "billing_error",
        "context_length_exceeded",
        "content_filter",
        "content_policy_violation",
    }
)


def _resumable(error: object) -> bool:
    if not isinstance(error, dict):
        return True
    return error.get("type") not in _REQUEST_FAULTS and error.get("code") not in _REQUEST_FAULTS


class SSEStream:
    __slots__ = ("_backend", "_clean", "_decoder", "_pending_error", "_resp")

    def __init__(self, backend: str, resp: Response) -> None:
        self._backend = backend
        self._resp = resp
        self._decoder = SSEDecoder()
        self._clean = False
        self._pending_error: UpstreamDisconnected | None = None

    async def read(self) -> list[Chunk] | None:
        if self._pending_error is not None:
            raise self._pending_error
        if self._clean:
            await self._drain()
            return None
        content = self._resp
        while True:
            try:
                data = await content.readany()
            except ConnectionError as exc:
                raise http.stream_broke(self._backend, exc) from exc
            if not data:
                return self._closed()
            chunks: list[Chunk] = []
            for event in self._decoder.feed(data):
                try:
                    self._event(event, chunks)
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

    def _event(self, event: ServerSentEvent, out: list[Chunk]) -> None:
        """Append what `event` becomes to `out`; set `_clean` at the API's end marker; raise
        `UpstreamDisconnected` for an error event."""
        raise NotImplementedError

    def _closed(self) -> list[Chunk] | None:
        """The upstream closed the connection: by default a clean end."""
        self._clean = True
        return None

    def _json(self, data: bytes) -> dict[str, Any]:
        """An event's JSON object; anything else is a broken stream."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event") from exc
        if not isinstance(obj, dict):
            raise UpstreamDisconnected(f"backend '{self._backend}' sent a malformed event")
        return obj

    def _error_event(self, error: object) -> UpstreamDisconnected:
        message = error.get("message") if isinstance(error, dict) else str(error)
        return UpstreamDisconnected(
            f"backend '{self._backend}' sent an error event: {message}",
            resumable=_resumable(error),
        )

    async def _drain(self) -> None:
        """Read to EOF after the end marker so the connection can go back to the pool."""
        content = self._resp
        try:
            async with asyncio.timeout(1.0):
                while await content.readany():
                    pass
        except (TimeoutError, ConnectionError):
            pass  # aclose() sees the stream is not at EOF and closes the connection

    async def aclose(self) -> None:
        """Release the connection for reuse after a clean end at EOF; otherwise close it."""
        if self._clean and self._resp.at_eof():
            self._resp.release()
        else:
            self._resp.close()
