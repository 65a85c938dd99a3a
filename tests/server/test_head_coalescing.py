"""The response head goes out with the first body part in one write, and never waits for a
body that comes later (server/protocol.py, HeadCoalescer), over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from sluicegate.server.protocol import GuardedHttpToolsProtocol, HeadCoalescer
from support import free_port, wait_until

BIG = 100_000


class App:
    """/now: head and body in one step; /later: the body only once the test says so;
    /big: a body larger than the join limit; /continue: reads a body sent after 100 Continue."""

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.loop = asyncio.get_running_loop()
        path = scope["path"]
        if path == "/continue":
            message = await receive()
            body = message["body"]
        elif path == "/big":
            body = b"x" * BIG
        else:
            body = b"hello"
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if path == "/later":
            self.release = asyncio.Event()
            await self.release.wait()
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[App, int]]:
    app = App()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20.0)
    yield app, port
    server.should_exit = True
    thread.join(10)


def _request(port: int, path: str, body: bytes = b"", extra: str = "") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    sock.sendall(head.encode())
    return sock


def _read_until(sock: socket.socket, done: Any) -> bytes:
    data = b""
    while not done(data):
        part = sock.recv(65536)
        assert part, f"connection closed after {data!r}"
        data += part
    return data


def _complete(size: int) -> Any:
    return lambda data: b"\r\n\r\n" in data and len(data.split(b"\r\n\r\n", 1)[1]) >= size


def test_head_and_body_arrive_as_one_response(served: tuple[App, int]) -> None:
    _, port = served
    with _request(port, "/now") as sock:
        data = _read_until(sock, _complete(5))
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 5" in head
    assert body == b"hello"


def test_head_is_sent_without_waiting_for_a_late_body(served: tuple[App, int]) -> None:
    app, port = served
    with _request(port, "/later") as sock:
        head = _read_until(sock, lambda data: b"\r\n\r\n" in data)  # body not yet released
        assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")
        assert app.loop is not None and app.release is not None
        app.loop.call_soon_threadsafe(app.release.set)
        assert _read_until(sock, lambda data: len(data) >= 5) == b"hello"


def test_a_large_body_follows_its_head_intact(served: tuple[App, int]) -> None:
    _, port = served
    with _request(port, "/big") as sock:
        data = _read_until(sock, _complete(BIG))
    assert data.split(b"\r\n\r\n", 1)[1] == b"x" * BIG


def test_100_continue_is_not_held(served: tuple[App, int]) -> None:
    """A client that waits for `100 Continue` before sending its body gets it at once."""
    _, port = served
    with _request(port, "/continue", b"ping", "expect: 100-continue\r\n") as sock:
        interim = _read_until(sock, lambda data: b"\r\n\r\n" in data)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"ping")
        data = _read_until(sock, _complete(4))
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\nping")


class Recording:
    """The transport under a HeadCoalescer, recording what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.writes.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_one_write_per_response_and_the_head_flushed_by_the_loop() -> None:
    async def scenario() -> list[list[bytes]]:
        loop = asyncio.get_running_loop()
        seen = []
        for writes in ([b"HEAD", b"body", b"more"], [b"HEAD"], [b"HTTP/1.1 100 Continue\r\n\r\n"]):
            transport = Recording()
            coalescer = HeadCoalescer(transport, loop)  # type: ignore[arg-type]
            for data in writes:
                coalescer.write(data)
            before = list(transport.writes)
            await asyncio.sleep(0)  # one loop iteration
            seen += [before, transport.writes]
        transport = Recording()
        coalescer = HeadCoalescer(transport, loop)  # type: ignore[arg-type]
        coalescer.write(b"HEAD")
        coalescer.close()
        seen.append(transport.writes)
        return seen

    assert asyncio.run(scenario()) == [
        [b"HEADbody", b"more"],
        [b"HEADbody", b"more"],
        [],  # a head alone waits for the rest of this loop iteration...
        [b"HEAD"],  # ...and no longer
        [b"HTTP/1.1 100 Continue\r\n\r\n"],
        [b"HTTP/1.1 100 Continue\r\n\r\n"],
        [b"HEAD"],  # closing sends what is held
    ]
