"""`kill -9` of a `--workers N` supervisor: its workers drain and exit instead of serving on,
unmanaged, on the inherited socket (which would keep the port from being used again)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx

from faults.test_drain import KEY, drain_config
from faults.test_log_durability import serve
from support import MockUpstream, wait_until


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; nobody is left to reap it yet


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_workers_exit_when_their_supervisor_is_killed(mock: MockUpstream, tmp_path: Path) -> None:
    process, url = serve(drain_config(mock.url, tmp_path), tmp_path, "--workers", "2")
    try:
        response = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        assert response.status_code == 200
        workers = wait_until(
            lambda: (
                [
                    pid
                    for pid in _children(process.pid)
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
                ]
                if len(_children(process.pid)) >= 2
                else None
            ),
            timeout=20,
        )
        assert len(workers) == 2
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        wait_until(lambda: not any(_alive(pid) for pid in workers), timeout=30, interval=0.1)
        port = int(url.rsplit(":", 1)[1])
        assert wait_until(lambda: _port_free(port), timeout=10, interval=0.1)
    finally:
        if process.poll() is None:
            process.kill()
