"""One HTTP/1.1 client connection to an upstream: an asyncio protocol feeding httptools'
response parser, and the response whose body it delivers.

Why not aiohttp: it was a third of the gateway's CPU under load (docs/benchmarks.md, "Where
the time goes"), most of it generality the gateway does not use (cookies, redirects,
multipart, tracing signals, a header multidict per response). This is the part that is used:
POST a body, read the status and headers, read the body whole or as it arrives, keep the
connection for the next request when the exchange ended cleanly (decision 38).

    Pool.post ─► Connection.send(request bytes) ─► parser callbacks on the loop:
                   on_headers_complete → Response ready (status, headers)
                   on_body             → Response buffer (reading paused past a high mark)
                   on_message_complete → Response at EOF; connection reusable if keep-alive
                   connection_lost     → Response fails (UpstreamClosed) unless complete
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Callable

import httptools

# Past this much unread body the socket stops being read until the consumer catches up.
_HIGH_WATER = 256 * 1024


class UpstreamClosed(ConnectionError):
    """The upstream closed (or reset) the connection before the response was complete."""


class UpstreamProtocolError(ConnectionError):
    """The upstream's bytes are not an HTTP/1.1 response."""


class Response:
    """An upstream response: status and headers once `Connection.send` returned, the body
    from `read()` (whole) or `readany()` (as it arrives; `b""` at the end)."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_decoder",
        "_done",
        "_error",
        "_waiter",
        "headers",
        "status",
    )

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: zlib._Decompress | None = None

    # -- fed by the connection ------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self._decoder is not None:
            data = self._decoder.decompress(data)
            if not data:
                return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER:
            self._conn.pause()
        self._wake()

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done or self._error is not None:
            return
        if error is None:
            if self._decoder is not None and (tail := self._decoder.flush()):
                self._chunks.append(tail)
            self._done = True
        else:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read by the provider -------------------------------------------------------------

    async def readany(self) -> bytes:
        """The body bytes that have arrived (waiting for some), or `b""` at the end."""
        while not self._chunks:
            if self._done:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks.clear()
        self._buffered = 0
        self._conn.resume()
        return data

    async def read(self) -> bytes:
        parts = []
        while data := await self.readany():
            parts.append(data)
        return b"".join(parts)

    def at_eof(self) -> bool:
        return self._done and not self._chunks

    def release(self) -> None:
        """Give the connection back for reuse if the exchange is complete; else close it."""
        self._conn.finished(self)

    def close(self) -> None:
        """Close the connection, whatever state the exchange is in."""
        self._conn.abort()


class Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time."""

    def __init__(self, on_idle: Callable[[Connection], None]) -> None:
        self._on_idle = on_idle
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: Response | None = None
        self._header_name = b""
        self._headers_ready: asyncio.Future[None] | None = None
        self._complete = False
        self._keep_alive = False
        self._until_close = False
        self._paused = False
        self._lost: Callable[[Connection], None] | None = None
        self.closed = False

    def on_lost(self, callback: Callable[[Connection], None]) -> None:
        self._lost = callback

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # bytes nobody asked for: the connection is unusable
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._lost is not None:
            self._lost(self)
        if self._until_close and exc is None and self._response is not None:
            # A body with neither a length nor chunks ends where the upstream closed cleanly.
            self.on_message_complete()
        if not self._complete:
            reason = f": {exc}" if exc else ""
            self._fail(UpstreamClosed(f"connection closed before the response ended{reason}"))

    # -- httptools callbacks --------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._response.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        response = self._response
        assert response is not None
        response.status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()
        headers = response.headers
        self._until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and response.status not in (204, 304)
            and not 100 <= response.status < 200
        )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            response._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            response._decoder = zlib.decompressobj()
        waiter = self._headers_ready
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        assert self._response is not None
        self._response._feed(body)

    def on_message_complete(self) -> None:
        self._complete = True
        assert self._response is not None
        self._response._finish()

    # -- used by the pool and the response ------------------------------------------------

    async def send(self, request: bytes) -> Response:
        """Write one request and wait for its status line and headers."""
        assert self._transport is not None
        self._response = response = Response(self)
        self._complete = False
        self._until_close = False
        self._headers_ready = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        try:
            await self._headers_ready
        except BaseException:
            self.abort()
            raise
        finally:
            self._headers_ready = None
        return response

    def _fail(self, error: BaseException) -> None:
        waiter = self._headers_ready
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self._response is not None:
            self._response._finish(error)
        self.abort()

    def pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self._transport is not None and not self.closed:
            self._paused = False
            self._transport.resume_reading()

    def finished(self, response: Response) -> None:
        if response is not self._response:
            return
        self._response = None
        if self._complete and self._keep_alive and not self.closed:
            self.resume()
            self._on_idle(self)
        else:
            self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.abort()
