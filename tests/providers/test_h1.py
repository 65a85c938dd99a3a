"""The upstream HTTP/1.1 client (`providers/h1`, decision 38) against raw servers on loopback
that send exactly the bytes each case needs: body framings, compression, reuse and its races,
a close mid-body, flow control, cancellation, garbage, refused connections and TLS."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from sluicegate.providers.h1 import ConnectFailed, Pool, UpstreamClosed, UpstreamProtocolError
from sluicegate.providers.h1.connection import _HIGH_WATER

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A loopback server running `handler` per connection, counting connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.closed_by_client = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.ssl())
        return self

    def ssl(self) -> ssl.SSLContext | None:
        return None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0].encode(), headers, body


def answer(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def until(predicate: Callable[[], object], seconds: float = 10.0) -> None:
    """Poll `predicate` on the loop until it holds; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        for _ in iter(int, 1):
            if predicate():
                return
            await asyncio.sleep(0.01)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection_and_sends_the_default_headers() -> None:
    seen: list[tuple[bytes, dict[str, str], bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            writer.write(answer(b'{"ok": true}', "x-twice: a", "x-twice: b"))

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({"authorization": "Bearer up"}, connect_timeout=5)
            for i in range(5):
                resp = await pool.post(server.url, b'{"n": %d}' % i, {"x-extra": "1"})
                assert (resp.status, await resp.read()) == (200, b'{"ok": true}')
                assert resp.headers["x-twice"] == "a, b"
                resp.release()
            assert server.connections == 1
            await pool.aclose()

    run(main())
    line, headers, body = seen[-1]
    assert line == b"POST /v1/chat/completions HTTP/1.1"
    assert headers["authorization"] == "Bearer up" and headers["x-extra"] == "1"
    assert headers["host"].startswith("127.0.0.1:") and body == b'{"n": 4}'


@pytest.mark.parametrize("framing", ["chunked", "close", "gzip"])
def test_every_body_framing_is_read_whole(framing: str) -> None:
    payload = b"data: " + b"x" * 100_000 + b"\n\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if framing == "chunked":
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for i in range(0, len(payload), 7000):
                part = payload[i : i + 7000]
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        elif framing == "close":
            writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + payload)
            await writer.drain()
            writer.close()
        else:
            writer.write(answer(gzip.compress(payload), "content-encoding: gzip"))
        await writer.drain()
        await reader.read()  # until the client closes or reuses

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            resp = await pool.post(server.url, b"{}")
            assert await resp.read() == payload
            resp.release()
            await pool.aclose()

    run(main())


def test_a_close_mid_body_fails_the_read_after_what_arrived() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nfirst")
        await writer.drain()
        writer.transport.abort()

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            resp = await pool.post(server.url, b"{}")
            received = b""
            with pytest.raises(UpstreamClosed):
                while data := await resp.readany():
                    received += data
            assert received == b"first"
            resp.close()
            await pool.aclose()

    run(main())


def test_a_connection_the_upstream_closed_while_idle_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"{}"))
        await writer.drain()  # then close: an upstream keep-alive timeout

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            for _ in range(3):
                resp = await pool.post(server.url, b"{}")
                assert await resp.read() == b"{}"
                resp.release()
                await until(lambda: not pool._open)  # the loop has seen the close
            assert server.connections == 3
            await pool.aclose()

    run(main())


def test_a_response_released_before_its_end_closes_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            resp = await pool.post(server.url, b"{}")
            assert await resp.readany() == b"abc"
            resp.release()
            resp = await pool.post(server.url, b"{}")
            resp.close()
            assert server.connections == 2
            await pool.aclose()

    run(main())


def test_reading_pauses_while_the_consumer_is_behind() -> None:
    size = 16 * 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        block = b"y" * 65536
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            resp = await pool.post(server.url, b"{}")
            await until(lambda: resp._conn._paused)
            # Paused at the high-water mark plus at most one read's worth of bytes.
            assert resp._buffered <= _HIGH_WATER + 1024 * 1024
            total = 0
            while data := await resp.readany():
                total += len(data)
            assert total == size
            resp.release()
            await pool.aclose()

    run(main())


def test_cancelling_before_the_headers_closes_the_upstream_connection() -> None:
    async def main() -> None:
        gone = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await reader.read()  # EOF: the client went away
            gone.set()

        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            task = asyncio.create_task(pool.post(server.url, b"{}"))
            await until(lambda: server.connections)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(10):
                await gone.wait()
            await pool.aclose()

    run(main())


def test_bytes_that_are_not_http_fail_as_a_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def main() -> None:
        async with Server(handler) as server:
            pool = Pool({}, connect_timeout=5)
            with pytest.raises(UpstreamProtocolError):
                await pool.post(server.url, b"{}")
            await pool.aclose()

    run(main())


def test_a_refused_connection_is_a_connect_failure() -> None:
    async def main() -> None:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        pool = Pool({}, connect_timeout=5)
        with pytest.raises(ConnectFailed) as caught:
            await pool.post(f"http://127.0.0.1:{port}/v1", b"{}")
        assert isinstance(caught.value.os_error, ConnectionRefusedError)
        await pool.aclose()

    run(main())


def test_https_verifies_the_upstream_against_the_system_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SSL_CERT_FILE` adds a private CA, as for any OpenSSL client; without it the
    self-signed upstream is refused."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")

    class TLSServer(Server):
        def ssl(self) -> ssl.SSLContext:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)
            return context

        @property
        def url(self) -> str:
            return super().url.replace("http://", "https://")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b'{"tls": true}'))
        await writer.drain()
        await reader.read()

    async def main(trusted: bool) -> None:
        async with TLSServer(handler) as server:
            pool = Pool({}, connect_timeout=5)
            if not trusted:
                with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
                    await pool.post(server.url, b"{}")
            else:
                resp = await pool.post(server.url, b"{}")
                assert await resp.read() == b'{"tls": true}'
                resp.release()
            await pool.aclose()

    run(main(trusted=False))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    run(main(trusted=True))
