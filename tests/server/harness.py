"""`sluicegate serve` as users run it, for tests of what it writes on stderr: a subprocess with
stdout and stderr each in a file, a config naming the mock upstream and a `logging:` section,
stopped (SIGTERM, drain, exit 0) before the test reads its output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from support import clean_env, free_port, wait_for_http

USER_KEY = "sk-logs-alice-key"
MASTER = "sk-logs-master-key"
UPSTREAM = "sk-logs-upstream-key"


def config_text(mock_url: str, folder: Path, logging: str) -> str:
    return f"""\
server:
  host: 127.0.0.1
  master_key: {MASTER}
  drain_seconds: 5
database:
  url: sqlite+aiosqlite:///{folder}/gateway.db
logging:
{logging}
backends:
  - name: mock
    type: openai
    base_url: {mock_url}/v1
    api_key: {UPSTREAM}
    max_retries: 0
    cooldown: {{failures: 1000000, seconds: 0}}
models:
  - name: m
    targets: [{{backend: mock, model: mock-model}}]
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
users:
  - name: alice
    api_keys: [{USER_KEY}]
    models: ["*"]
"""


@dataclass
class Served:
    url: str
    stdout: Path
    stderr: Path
    returncode: int | None = None

    def lines(self) -> list[str]:
        return self.stderr.read_text().splitlines()

    def records(self) -> list[dict[str, Any]]:
        """Every stderr line as the JSON object it must be (a line that is not fails here)."""
        return [orjson.loads(line) for line in self.lines()]

    def access(self, request_id: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r["logger"] == "sluicegate.access" and r["request_id"] == request_id
        ]


def start(
    folder: Path, mock_url: str, logging: str, *args: str, stderr: Any
) -> tuple[Served, subprocess.Popen[bytes]]:
    """Start serving with `logging` (the indented body of the `logging:` section)."""
    config = folder / "sluicegate.yaml"
    config.write_text(config_text(mock_url, folder, logging))
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}", folder / "stdout.log", folder / "stderr.log")
    command = [sys.executable, "-m", "sluicegate", "serve", "--config", str(config)]
    with served.stdout.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=folder,
            env=clean_env(),
            stdout=out,
            stderr=stderr,
        )
    return served, process


def stop(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    try:
        return process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)
        raise


@contextmanager
def serving(folder: Path, mock_url: str, logging: str, *args: str) -> Iterator[Served]:
    """Serve until the block ends; then stop the server, which writes every queued line before
    it exits, and keep its exit code in `returncode`."""
    with (folder / "stderr.log").open("wb") as err:
        served, process = start(folder, mock_url, logging, *args, stderr=err)
    try:
        wait_for_http(served.url + "/health/ready", timeout=30)
        yield served
    finally:
        served.returncode = stop(process)


def chat(
    served: Served,
    text: str,
    request_id: str,
    *,
    key: str = USER_KEY,
    model: str = "m",
    stream: bool = False,
) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    headers = {"authorization": f"Bearer {key}", "x-request-id": request_id}
    return httpx.post(served.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
