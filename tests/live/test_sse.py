"""LiveStream under pressure and outages: a subscriber that stops reading is reset and cut off
while requests and other subscribers go on; events flow while the database is down."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from support import ALICE_KEY, MASTER_KEY, RunningGateway, wait_until

from .conftest import chat, config_like
from .tail import Tail


def test_a_subscriber_that_stops_reading_is_reset_and_disconnected(
    live_gateway: RunningGateway, user: httpx.Client, tag: str
) -> None:
    live = live_gateway.app.live
    reader = Tail(live_gateway.url)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", live_gateway.port))
    stalled.sendall(
        b"GET /admin/live/logs HTTP/1.1\r\nhost: t\r\n"
        b"authorization: Bearer " + MASTER_KEY.encode() + b"\r\n\r\n"
    )
    try:
        wait_until(lambda: live.subscribers == 2)
        served: list[str] = []

        def cut_off() -> bool:
            for i in range(10):
                # A long unknown model name makes big events (both carry it), so the stalled
                # client's socket buffers fill after a few hundred requests, not thousands.
                unknown = chat(user, tag, model=f"{tag}-{i}-" + "x" * 8000)
                assert unknown.status_code == 404
                response = chat(user, f"{tag}-{len(served)}-{i}")
                assert response.status_code == 200
                served.append(response.headers["x-request-id"])
            return live.subscribers == 1

        wait_until(cut_off, 60)
        # Once the stalled client reads, it finds the final reset, then the end of the stream.
        stalled.settimeout(10)
        received = b""
        while chunk := stalled.recv(65536):
            received += chunk
        tail = received[-400:]
        assert b"event: reset" in tail and b'"reason":"too_slow"' in tail, tail
        assert received.endswith(b"0\r\n\r\n")
        print("requests until cut off:", len(served), "bytes", len(received))
        assert not reader.ended
        wanted = set(served)  # the reading subscriber missed nothing
        wait_until(lambda: wanted <= {e.data["request_id"] for e in reader.of("usage.recorded")})
    finally:
        stalled.close()
        reader.close()


def test_events_arrive_while_the_database_is_down(gateway: RunningGateway, tmp_path: Path) -> None:
    # A SQLite file in a folder that does not exist: every connection fails at once.
    spool = gateway.app.config.logging.model_copy(update={"spool_dir": str(tmp_path / "spool")})
    config = config_like(gateway, f"sqlite+aiosqlite:///{tmp_path}/missing/gw.db", logging=spool)
    down_gateway = RunningGateway(config)
    try:
        admin = {"authorization": f"Bearer {MASTER_KEY}"}
        down = httpx.get(down_gateway.url + "/admin/analytics/requests", headers=admin)
        assert down.status_code == 503
        with Tail(down_gateway.url) as tail, httpx.Client(base_url=down_gateway.url) as client:
            client.headers["authorization"] = f"Bearer {ALICE_KEY}"
            response = chat(client, "while the database is down")
            assert response.status_code == 200
            events = tail.wait_for(response.headers["x-request-id"])
            assert events["audit.created"]["status_code"] == 200
    finally:
        down_gateway.stop()
