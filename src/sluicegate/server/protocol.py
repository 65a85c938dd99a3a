"""uvicorn's httptools protocol with the two client limits it lacks (a deadline for the
request line and headers, and a cap on their size) and a hang-up signal per request.

    connection made / next request begins ─► header timer armed
        │ url and header bytes counted ─► over max_header_bytes ─► 431, close
        │ timer fires first ───────────────────────────────────► 408, close
        ▼
    headers complete ─► timer disarmed; the ASGI app takes over (its body has its own timeout)

Without these, a client that opens connections and sends a header byte now and then
(slowloris) holds sockets and parser buffers for ever, and one that sends megabytes of
headers is buffered whole. The limits travel to each worker on the pickled uvicorn `Config`
(`ClientLimits` under `LIMITS_ATTRIBUTE`), since uvicorn builds one protocol per connection.

Each request's scope also carries a `HangUp` (proxy/disconnect.py) fired from `connection_lost`
while its response is unfinished, so the proxy learns of a client that left without a watcher
task per request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import GatewayError, HeadersTooLarge, RequestTimeout
from ..proxy.disconnect import HANGUP_KEY, HangUp
from ..proxy.envelopes import error_body

LIMITS_ATTRIBUTE = "sluicegate_client_limits"
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float = 10.0
    max_header_bytes: int = 65536


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits: ClientLimits = getattr(config, LIMITS_ATTRIBUTE, None) or ClientLimits()
        self._header_timeout = limits.header_timeout
        self._max_header_bytes = limits.max_header_bytes
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: GatewayError | None = None

    # Connection events ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            hangup = cycle.scope.get(HANGUP_KEY)
            if hangup is not None:
                hangup.fire()
        super().connection_lost(exc)

    # Parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[HANGUP_KEY] = HangUp()  # type: ignore[literal-required]
        self._header_bytes = 0
        if self._header_timer is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            cycle.transport = HeadCoalescer(self.transport, self.loop)  # type: ignore[assignment]

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to any parser error, ours (raised from `_count`) included.
        if self._refusal is not None:
            self._reject(self._refusal)
        else:
            super().send_400_response(msg)

    # Limits --------------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self._max_header_bytes:
            self._refusal = HeadersTooLarge(
                f"The request line and headers exceed {self._max_header_bytes} bytes."
            )
            raise self._refusal  # stops the parser; it reaches us as `send_400_response`

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            seconds = self._header_timeout
            self._reject(RequestTimeout(f"The request headers took longer than {seconds:g}s."))

    def _reject(self, error: GatewayError) -> None:
        body = error_body(error)
        status = error.status_code
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS.get(status, b"Bad Request"), len(body))
        )
        self.transport.write(head + body)
        self.transport.close()


# Bodies up to this size are joined to the held head; larger ones go out beside it (writev).
_JOIN_BYTES = 16384
_CONTINUE = b"HTTP/1.1 100 "


class HeadCoalescer:
    """A request's view of its connection's transport that sends the response head together
    with the first body part: one write (one TCP segment, one syscall) instead of two.

    uvicorn writes the status line and headers as soon as the app sends
    `http.response.start`, and the body on the next message; every answer of the proxy sends
    both in the same step of its task. The head is held until the next write, or until the
    end of the current loop iteration (`call_soon`) for an app that sends its body later, so no
    response waits longer than one iteration for its head. A `100 Continue` is not held.
    """

    __slots__ = ("_held", "_loop", "_seen_head", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._seen_head = False

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= _JOIN_BYTES:
                self._transport.write(held + data)
            else:
                self._transport.writelines((held, data))
        elif not self._seen_head and not data.startswith(_CONTINUE):
            self._seen_head = True
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
