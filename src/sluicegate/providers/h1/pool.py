"""Pool: keep-alive HTTP/1.1 connections to one backend's origins, and `post()`, the one
request the gateway makes upstream.

Idle connections are reused newest first (the one most likely still open); one the upstream
closed while idle leaves the pool as soon as the loop sees the close. A request written on a
reused connection that the upstream had closed in the same instant fails with
`UpstreamClosed` before any response byte, exactly as with aiohttp, and the engine's retry
takes it from there. Connections idle longer than `keepalive_seconds` are closed when next
looked at, so an upstream's own idle timeout rarely races a request.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

from .connection import Connection, Response


class ConnectFailed(ConnectionError):
    """No connection could be made (refused, unreachable, DNS, TLS handshake, timeout)."""

    def __init__(self, message: str, os_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.os_error = os_error


class Pool:
    """Connections to every origin one backend posts to, with its default headers."""

    def __init__(
        self,
        headers: dict[str, str],
        connect_timeout: float,
        keepalive_seconds: float = 30.0,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        # Default headers as bytes, joined once: every request carries them.
        self._default = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()
        )
        self._idle: dict[tuple[str, str, int], list[tuple[Connection, float]]] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._open: set[Connection] = set()
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def post(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> Response:
        """Send `body` to `url`; return once the status line and headers have arrived."""
        origin, head = self._target(url)
        extra = b""
        if headers:
            extra = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items())
        request = b"".join(
            (head, self._default, extra, b"content-length: %d\r\n\r\n" % len(body), body)
        )
        conn = self._take_idle(origin) or await self._connect(origin)
        return await conn.send(request)

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes]:
        """The origin and the request line + host header of `url`, parsed once per URL."""
        known = self._targets.get(url)
        if known is not None:
            return known
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        default_port = port == (443 if scheme == "https" else 80)
        host = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if ":" in parts.hostname and not default_port:  # an IPv6 literal
            host = f"[{parts.hostname}]:{port}"
        head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\n".encode("latin-1")
        known = ((scheme, parts.hostname, port), head)
        if len(self._targets) < 1024:  # URLs are a backend's few endpoints
            self._targets[url] = known
        return known

    def _take_idle(self, origin: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn, since = idle.pop()
            if not conn.closed and now - since < self._keepalive:
                return conn
            conn.abort()
        return None

    def _release(self, origin: tuple[str, str, int], conn: Connection) -> None:
        if self._closed:
            conn.abort()
            return
        self._idle.setdefault(origin, []).append((conn, time.monotonic()))

    async def _connect(self, origin: tuple[str, str, int]) -> Connection:
        if self._closed:
            raise ConnectFailed("the backend's client is closed")
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(lambda c: self._release(origin, c)),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                )
        except TimeoutError as exc:
            raise ConnectFailed(f"connect timeout to {host}:{port}") from exc
        except OSError as exc:  # refused, unreachable, DNS (socket.gaierror), TLS (SSLError)
            raise ConnectFailed(f"{host}:{port}: {exc}", exc) from exc
        self._open.add(conn)
        conn.on_lost(self._open.discard)
        return conn

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.abort()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing before the loop goes
