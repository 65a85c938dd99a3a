"""Overload and misbehaving clients, each over a real socket:

- above `server.max_inflight` a request gets 503 `overloaded` with Retry-After at once, and
  /health still answers;
- a client slow to send its headers (or sending nothing) gets 408, one sending oversized
  headers 431, one trickling its body 408; each connection is closed;
- a client that stops reading a large stream: backpressure reaches the upstream (it cannot
  send the rest), the gateway's memory stays flat, and the upstream is closed after the
  backend's `idle` seconds without progress.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from faults.test_log_durability import serve, serve_log
from sluicegate.config.schema import GatewayConfig
from support import MASTER_KEY, MockUpstream, RunningGateway, wait_until

KEY = "sk-overload-user"
MAX_INFLIGHT = 3


def overload_config(mock_url: str, **server: object) -> dict[str, object]:
    return {
        "server": {"master_key": MASTER_KEY, **server},
        "backends": [
            {
                "name": "mock",
                "type": "openai",
                "base_url": mock_url + "/v1",
                "max_retries": 0,
                "timeouts": {"first_token": 20, "idle": 2, "total": 120},
            }
        ],
        "models": [{"name": "m", "targets": [{"backend": "mock", "model": "mock-model"}]}],
        "users": [{"name": "busy", "api_keys": [KEY], "models": ["*"]}],
    }


@pytest.fixture(scope="module")
def guarded(mock: MockUpstream) -> Iterator[RunningGateway]:
    config = overload_config(
        mock.url,
        max_inflight=MAX_INFLIGHT,
        header_timeout_seconds=1,
        body_timeout_seconds=1,
        max_header_bytes=4096,
    )
    running = RunningGateway(GatewayConfig.model_validate(config))
    yield running
    running.stop()


def chat(text: str, stream: bool = False) -> dict[str, object]:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}


def test_over_max_inflight_is_503_overloaded_and_health_answers(
    guarded: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    release = threading.Event()
    opened = threading.Semaphore(0)

    def hold(index: int) -> None:
        with httpx.stream(
            "POST",
            guarded.url + "/v1/chat/completions",
            json=chat(f"{tag} h{index} #mock chunks=60 inter_ms=100", stream=True),
            headers=headers,
            timeout=30,
        ) as response:
            assert response.status_code == 200
            opened.release()
            release.wait(30)

    holders = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(MAX_INFLIGHT)]
    for holder in holders:
        holder.start()
    for _ in holders:
        assert opened.acquire(timeout=30)
    try:
        refused = httpx.post(
            guarded.url + "/v1/chat/completions",
            json=chat(f"{tag} one too many"),
            headers=headers,
            timeout=10,
        )
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("server_error", "overloaded")
        assert int(refused.headers["retry-after"]) >= 1
        record = guarded.completion(refused.headers["x-request-id"])
        assert (record.status_code, record.error_type) == (503, "overloaded")
        assert not mock.requests(f"{tag} one too many")  # refused before any upstream call
        health = httpx.get(guarded.url + "/health", timeout=5)
        assert health.status_code == 200
    finally:
        release.set()
        for holder in holders:
            holder.join(30)
    # Once the holders are gone, requests are admitted again.
    again = httpx.post(
        guarded.url + "/v1/chat/completions", json=chat(f"{tag} again"), headers=headers
    )
    assert again.status_code == 200, again.text


def read_response(sock: socket.socket) -> tuple[int, dict[str, object], bytes]:
    """Status, JSON body and anything after it, read until the server closes."""
    sock.settimeout(20)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), data


def connect(gateway: RunningGateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=20)


def test_silent_client_gets_408(guarded: RunningGateway) -> None:
    with connect(guarded) as sock:
        status, body, _ = read_response(sock)
    assert status == 408
    assert body["error"]["code"] == "request_timeout"


def test_slow_headers_get_408_and_the_connection_closes(guarded: RunningGateway) -> None:
    with connect(guarded) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthoriz")
        status, body, _ = read_response(sock)  # returns only once the server closed
    assert status == 408
    assert body["error"]["type"] == "invalid_request_error"


def test_slow_headers_on_a_kept_alive_connection_get_408(guarded: RunningGateway) -> None:
    """The deadline holds for the second request of a connection too."""
    with connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        status, _, _ = read_response(sock)
    assert status == 408


@pytest.mark.parametrize("where", ["header", "url"])
def test_oversized_headers_get_431(guarded: RunningGateway, where: str) -> None:
    big = b"a" * 5000
    if where == "header":
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n"
    else:
        request = b"GET /health?" + big + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(guarded) as sock:
        sock.sendall(request)
        status, body, _ = read_response(sock)
    assert status == 431
    assert body["error"]["code"] == "request_header_fields_too_large"


def test_headers_within_the_limit_are_served(guarded: RunningGateway) -> None:
    response = httpx.get(guarded.url + "/health", headers={"x-fill": "a" * 3000})
    assert response.status_code == 200


def test_trickled_body_gets_408_and_is_logged(guarded: RunningGateway) -> None:
    with connect(guarded) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + KEY.encode()
            + b"\r\nx-request-id: trickle-1\r\ncontent-type: application/json\r\n"
            b'content-length: 200\r\n\r\n{"model": '
        )
        status, body, _ = read_response(sock)
    assert status == 408
    assert body["error"]["code"] == "request_timeout"
    record = guarded.completion("trickle-1")
    assert (record.status_code, record.error_type) == (408, "invalid_request")


# A client that stops reading -----------------------------------------------------------------

PAD = 16_000  # bytes of text per chunk
CHUNKS = 4_000  # 64 MB in all: far more than the socket buffers on the way can hold


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_client_that_stops_reading_keeps_memory_flat_and_frees_the_upstream(
    mock: MockUpstream, tmp_path: Path, tag: str
) -> None:
    config = overload_config(mock.url)
    config["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path}/gateway.db"}
    path = tmp_path / "sluicegate.yaml"
    path.write_text(json.dumps(config))
    process, url = serve(path, tmp_path)
    port = int(url.rsplit(":", 1)[1])
    try:
        body = json.dumps(chat(f"{tag} #mock chunks={CHUNKS} pad={PAD} inter_ms=1", True))
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + KEY.encode()
                + b"\r\nx-request-id: stall-"
                + tag.encode()
                + b"\r\ncontent-type: application/json\r\ncontent-length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body.encode()
            )
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            # From here on the client reads nothing more.
            record = mock.request(tag)
            baseline = rss_mb(process.pid)
            peak = baseline

            def upstream_freed() -> bool:
                nonlocal peak
                peak = max(peak, rss_mb(process.pid))
                return mock.request(tag)["outcome"] is not None

            wait_until(upstream_freed, 60, 0.05)
            record = mock.request(tag)
        assert record["outcome"] == "client_disconnected", record
        # Backpressure: the upstream could not send more than the buffers on the way hold.
        assert record["chunks_sent"] < CHUNKS / 2, record["chunks_sent"]
        assert peak - baseline < 25, (baseline, peak)
        wait_until(lambda: logged(port, f"stall-{tag}"), 20, 0.1)
        row = logged(port, f"stall-{tag}")
        assert (row["status_code"], row["error_type"]) == (200, "client_disconnected"), row
        assert "stopped reading" in row["error_message"]
    finally:
        process.terminate()
        process.wait(30)
    assert "Traceback" not in serve_log(tmp_path), serve_log(tmp_path)


def logged(port: int, request_id: str) -> dict[str, object] | None:
    response = httpx.get(
        f"http://127.0.0.1:{port}/admin/analytics/requests",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        params={"limit": 50},
    )
    for row in response.json()["rows"]:
        if row["request_id"] == request_id:
            return dict(row)
    return None
