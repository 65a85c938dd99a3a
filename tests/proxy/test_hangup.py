"""A client that hangs up cancels its request (SPEC 4.5): by the server protocol's signal, by the
watcher task under a plain ASGI server, and with no reference cycle left for the GC."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from conftest import gateway_config, sqlite_url
from sluicegate.hooks.base import Hook
from sluicegate.record import RequestInfo
from support import MockUpstream, RunningGateway, wait_until

KEY = "sk-alice-test-key"


class HeldBefore(Hook):
    """A `before` hook that holds each request until the test lets it go."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release: asyncio.Event | None = None

    async def before(self, info: RequestInfo) -> None:
        self.release = self.release or asyncio.Event()
        self.entered.append(info.request_id)
        await self.release.wait()


@pytest.fixture
def own_gateway(mock: MockUpstream, tmp_path: Path) -> Iterator[RunningGateway]:
    running = RunningGateway(gateway_config(mock.url, sqlite_url(tmp_path)))
    yield running
    running.stop()


def _post_raw(port: int, body: dict[str, Any], request_id: str) -> socket.socket:
    """Send one request on a raw socket and return it unread."""
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {KEY}\r\nx-request-id: {request_id}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head + payload)
    return sock


def test_hangup_before_the_upstream_call_never_reaches_it(
    own_gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    """The client leaves while a `before` hook holds its request: the hang-up is remembered,
    and the request is cancelled before any upstream attempt (499, nothing sent upstream)."""
    hook = HeldBefore()
    own_gateway.bus.add(hook)
    body = {"model": "m", "messages": [{"role": "user", "content": f"{tag} #mock"}]}
    sock = _post_raw(own_gateway.port, body, tag)
    wait_until(lambda: tag in hook.entered)
    sock.close()
    state = own_gateway.server.server_state
    wait_until(lambda: not state.connections)  # connection_lost has run
    assert hook.release is not None
    own_gateway.loop.call_soon_threadsafe(hook.release.set)
    completion = own_gateway.completion(tag)
    assert (completion.status_code, completion.error_type) == (499, "client_disconnected")
    assert not mock.requests(tag)


def test_plain_uvicorn_protocol_still_cancels_on_hangup(
    mock: MockUpstream, tmp_path: Path, tag: str
) -> None:
    """Without our protocol's signal (another ASGI server), the watcher task does the job."""
    running = RunningGateway(gateway_config(mock.url, sqlite_url(tmp_path)), http=HttpToolsProtocol)
    try:
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": f"{tag} #mock chunks=50 inter_ms=200"}],
            "stream": True,
        }
        headers = {"authorization": f"Bearer {KEY}", "x-request-id": tag}
        with httpx.Client(base_url=running.url, timeout=10) as client:
            with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
                next(line for line in r.iter_lines() if line.startswith("data: "))
            closed_at = time.time()
        record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
        assert record["outcome"] == "client_disconnected"
        assert record["ended_at"] - closed_at < 1.0
        completion = running.completion(tag)
        assert (completion.status_code, completion.error_type) == (200, "client_disconnected")
    finally:
        running.stop()


def _ours(obj: object) -> bool:
    """An object of the gateway's own code: an instance of its classes or one of its frames."""
    code = getattr(obj, "f_code", None)
    if code is not None:
        return "/sluicegate/" in code.co_filename
    return type(obj).__module__.startswith("sluicegate.")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_requests_leave_no_reference_cycles(
    own_gateway: RunningGateway, mock: MockUpstream, tag: str, stream: bool
) -> None:
    """Answered requests are freed by reference counting alone: cyclic garbage (a cancelled
    watcher task's frames, say) is found only by the costly older GC generations."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": f"{tag} #mock chunks=3"}],
        "stream": stream,
    }
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=own_gateway.url, timeout=10) as client:
        client.post("/v1/chat/completions", json=body, headers=headers)  # warm the pools
        wait_until(lambda: len(own_gateway.completions) == 1)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(20):
                response = client.post("/v1/chat/completions", json=body, headers=headers)
                assert response.status_code == 200
            wait_until(lambda: len(own_gateway.completions) == 21)
            gc.collect()
            leaked = [obj for obj in gc.garbage if _ours(obj)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert leaked == []
