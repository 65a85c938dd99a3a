"""Live logs across processes: a real redis-server and two `sluicegate serve` processes; a
subscriber on either sees the requests both served, each event exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from sluicegate.live.events import AUDIT, USAGE
from sluicegate.live.redis import decode_batch, encode_batch
from support import MockUpstream, free_port, wait_for_http, wait_until

from .tail import Tail

MASTER = "sk-master-live-redis"


def _serve(config: Path, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sluicegate", "serve", "--config", str(config), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _chat(url: str, key: str, text: str) -> str:
    response = httpx.post(
        url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )
    assert response.status_code == 200
    return response.headers["x-request-id"]


def test_batches_encode_and_decode_without_json() -> None:
    items = [(AUDIT, b'{"a":"x\\ny"}'), (USAGE, b"{}")]
    assert decode_batch(encode_batch(b"origin", items)) == (b"origin", items)


def test_every_subscriber_sees_both_processes_requests_once(
    redis_url: str,
    mock: MockUpstream,
    tmp_path: Path,
    tag: str,
) -> None:
    key = f"sk-live-{tag}"
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""
server: {{master_key: {MASTER}}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/gw.db"}}
redis: {{url: "{redis_url}"}}
live: {{heartbeat_seconds: 0.3}}
backends:
  - {{name: mock, type: openai, base_url: "{mock.url}/v1", max_retries: 0}}
models:
  - {{name: m, targets: [{{backend: mock, model: mock-model}}]}}
users:
  - {{name: live-{tag}, api_keys: [{key}], models: ["*"]}}
"""
    )
    urls = [f"http://127.0.0.1:{port}" for port in (free_port(), free_port())]
    processes = [_serve(config, int(url.rsplit(":", 1)[1]), tmp_path) for url in urls]
    tails: list[Tail] = []
    try:
        for url in urls:
            wait_for_http(url + "/health", 30)
        tails = [Tail(url, MASTER) for url in urls]
        # Each relay subscribes to Redis as its process starts: wait until both carry events.
        warm = [0]

        def relayed() -> bool:
            warm[0] += 1
            ids = [_chat(url, key, f"{tag} warm {warm[0]}") for url in urls]
            return all(tail.wait_for(i, 2) for tail in tails for i in ids)

        wait_until(relayed, 30, 0.2)
        served = [_chat(url, key, f"{tag} on {n}") for n, url in enumerate(urls)]
        later = [_chat(url, key, f"{tag} later {n}") for n, url in enumerate(urls)]
        for tail in tails:
            for request_id in served + later:
                tail.wait_for(request_id)  # asserts each event came once
        for tail in tails:  # the events that arrived after them did not repeat them either
            assert all(len(tail.for_request(request_id)) == 2 for request_id in served)
    finally:
        for tail in tails:
            tail.close()
        for process in processes:
            process.terminate()
            process.wait(15)
