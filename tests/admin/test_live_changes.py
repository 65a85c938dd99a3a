"""Admin changes take effect at once, without a restart, in every worker (SPEC 5).

One `sluicegate serve --workers 2` subprocess per module, over a SQLite file in a temp folder.
Every probe is a chat request on a connection of its own, so the kernel hands the requests to
both workers; each reply records which worker process served it (read from /proc: the worker
holding the server side of the connection), and a batch only counts when both workers answered
in it. The catalog is polled by every worker once a second, so every wait is a poll with a
5-second deadline, never a sleep.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import MockUpstream, clean_env, free_port, wait_for_http, wait_until

MASTER_KEY = "sk-live-master-" + uuid.uuid4().hex
CONFIG_USER_KEY = "sk-live-config-user-" + uuid.uuid4().hex
BATCH = 20
DEADLINE = 5.0
NEVER_COOL = {"failures": 1_000_000, "seconds": 0}

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="telling workers apart reads Linux /proc"
)


def config_text(mock_url: str, database: Path, extra_users: str = "") -> str:
    return f"""\
server:
  master_key: {MASTER_KEY}
database:
  url: sqlite+aiosqlite:///{database}
backends:
  - name: mock
    type: openai
    base_url: {mock_url}/v1
    api_key: upstream-live-key
    max_retries: 0
    cooldown: {{failures: 1000000, seconds: 0}}
models:
  - name: m
    targets: [{{backend: mock, model: mock-model}}]
users:
  - name: cfg-user
    api_keys: [{CONFIG_USER_KEY}]
    models: ["*"]
{extra_users}"""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        # the fields after "(comm)": state, ppid, ...
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(entry))
    return sorted(found)


@dataclass
class Live:
    process: subprocess.Popen[bytes]
    port: int
    url: str
    config: Path
    database: Path
    output: Path
    mock_url: str
    workers: list[int]

    def worker_of(self, client_port: int) -> int | None:
        """The worker holding the server side of the connection from `client_port`."""
        inode = None
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if (
                    int(local.rsplit(":", 1)[1], 16) == self.port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    inode = fields[9]
        if inode is None or inode == "0":
            return None
        target = f"socket:[{inode}]"
        for pid in self.workers:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        return None


@dataclass
class Reply:
    status: int
    body: str
    worker: int | None


def chat(live: Live, key: str, model: str = "m", text: str = "hello") -> Reply:
    """One chat request on a fresh connection, and the worker that served it."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=15)
    try:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(body),
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read().decode()
        assert conn.sock is not None
        worker = live.worker_of(conn.sock.getsockname()[1])
        return Reply(response.status, data, worker)
    finally:
        conn.close()


def settle(
    live: Live, send: Callable[[], Reply], status: int, n: int = BATCH, timeout: float = DEADLINE
) -> list[Reply]:
    """Send batches of `n` fresh-connection requests until one batch is all `status` and was
    served by both workers; fail after `timeout` seconds with the last batch."""
    last: list[Reply] = []

    def one_batch() -> list[Reply] | None:
        nonlocal last
        last = [send() for _ in range(n)]
        everywhere = set(live.workers) <= {reply.worker for reply in last}
        return last if everywhere and all(r.status == status for r in last) else None

    try:
        result: list[Reply] = wait_until(one_batch, timeout, 0)
    except AssertionError:
        seen = [(r.status, r.worker) for r in last]
        raise AssertionError(
            f"no batch of {n} all {status} on workers {live.workers} within {timeout}s; "
            f"last batch (status, worker): {seen}; a body: {last[-1].body[:300] if last else ''}"
        ) from None
    return result


@pytest.fixture(scope="module")
def live(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live")
    config = folder / "sluicegate.yaml"
    database = folder / "gateway.db"
    config.write_text(config_text(mock.url, database))
    output = folder / "serve.log"
    port = free_port()
    args = ["--config", str(config), "--port", str(port), "--workers", "2"]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluicegate", "serve", *args],
            cwd=folder,
            env=clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(url + "/health", timeout=30)
            wait_until(lambda: output.read_text().count("Application startup complete") >= 2, 30)
            workers = wait_until(lambda: (w := children(process.pid)) and len(w) == 2 and w, 10)
            yield Live(process, port, url, config, database, output, mock.url, workers)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


@pytest.fixture(scope="module")
def admin(live: Live) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as client:
        yield client


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def same_worker(admin: httpx.Client, key: str, model: str = "m") -> httpx.Response:
    """A chat request on the admin client's kept-alive connection: the worker that has just
    answered an admin change, which applies it before answering (no polling)."""
    return admin.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key}"},
    )


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_two_workers_are_serving(live: Live) -> None:
    replies = settle(live, lambda: chat(live, CONFIG_USER_KEY), 200)
    assert {r.worker for r in replies} == set(live.workers)


def test_key_lifecycle_takes_effect_in_every_worker_at_once(
    live: Live, admin: httpx.Client
) -> None:
    user = created(admin.post("/admin/users", json={"name": name("ann"), "models": ["*"]}))
    first_key = user["api_key"]
    [first] = user["keys"]
    assert first_key.startswith(first["prefix"].rstrip("…"))

    # A new user's key works at once: in the worker that made it, with no wait at all ...
    assert same_worker(admin, first_key).status_code == 200
    # ... and in both workers.
    settle(live, lambda: chat(live, first_key), 200)

    # A second key works too.
    second = created(admin.post(f"/admin/users/{user['id']}/keys"))
    second_key = second["api_key"]
    settle(live, lambda: chat(live, second_key), 200)

    # Revoking the first key locks it out everywhere; the second key never stops working.
    revoked = created(admin.delete(f"/admin/keys/{first['id']}"), 200)
    assert revoked["revoked_at"] is not None
    assert same_worker(admin, first_key).status_code == 401

    def first_key_while_second_works() -> Reply:
        other = chat(live, second_key)
        assert other.status == 200, f"the second key failed meanwhile: {other}"
        return chat(live, first_key)

    refused = settle(live, first_key_while_second_works, 401)
    assert json.loads(refused[0].body)["error"]["code"] == "invalid_api_key"
    settle(live, lambda: chat(live, second_key), 200)

    # Deleting the user locks out its remaining key everywhere.
    assert created(admin.delete(f"/admin/users/{user['id']}"), 200)["deleted"] is True
    assert same_worker(admin, second_key).status_code == 401
    settle(live, lambda: chat(live, second_key), 401)
    assert admin.get(f"/admin/users/{user['id']}").status_code == 404


def test_new_model_is_served_by_every_worker_at_once(live: Live, admin: httpx.Client) -> None:
    model = name("fresh")
    unknown = chat(live, CONFIG_USER_KEY, model)
    assert unknown.status == 404, unknown

    body = {"name": model, "targets": [{"backend": "mock", "model": "mock-model"}]}
    assert created(admin.post("/admin/models", json=body))["source"] == "api"
    assert same_worker(admin, CONFIG_USER_KEY, model).status_code == 200
    replies = settle(live, lambda: chat(live, CONFIG_USER_KEY, model), 200)
    assert json.loads(replies[0].body)["choices"][0]["message"]["content"] == "w0 w1 w2 "


def test_backend_update_takes_effect_in_every_worker_at_once(
    live: Live, admin: httpx.Client
) -> None:
    backend = name("api-mock")
    row = created(
        admin.post(
            "/admin/backends",
            json={
                "name": backend,
                "type": "openai",
                "base_url": live.mock_url + "/v1",
                "max_retries": 0,
                "cooldown": NEVER_COOL,
            },
        )
    )
    model = name("flaky")
    targets = [{"backend": backend, "model": "mock-model"}]
    created(admin.post("/admin/models", json={"name": model, "targets": targets}))

    def failing_once() -> Reply:
        # Each request has a directive line of its own: its first try gets a 503, a retry
        # would be answered normally.
        text = f"hi #mock status=503 fail_times=1 n={uuid.uuid4().hex}"
        return chat(live, CONFIG_USER_KEY, model, text)

    # No retries: the 503 ends as a 502 in both workers. (Batches of 10: a retry waits up to
    # 0.1 s of backoff, and a batch must fit the deadline several times over.)
    settle(live, failing_once, 502, n=10)

    updated = created(admin.put(f"/admin/backends/{row['id']}", json={"max_retries": 2}), 200)
    assert updated["max_retries"] == 2
    # Retries now hide the one failure, in both workers.
    settle(live, failing_once, 200, n=10)


def test_config_file_entities_are_read_only(live: Live, admin: httpx.Client) -> None:
    users = created(admin.get("/admin/users"), 200)["data"]
    [config_user] = [u for u in users if u["name"] == "cfg-user"]
    assert config_user["source"] == "config"
    for response in (
        admin.put(f"/admin/users/{config_user['id']}", json={"rpm": 1}),
        admin.delete(f"/admin/users/{config_user['id']}"),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "read_only"
    backends = created(admin.get("/admin/backends"), 200)["data"]
    [config_backend] = [b for b in backends if b["name"] == "mock"]
    response = admin.put(f"/admin/backends/{config_backend['id']}", json={"max_retries": 3})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "read_only"

    # Unchanged: still no rpm limit, still serving everywhere.
    again = created(admin.get(f"/admin/users/{config_user['id']}"), 200)
    assert again["rpm"] is None
    settle(live, lambda: chat(live, CONFIG_USER_KEY), 200)


def test_reload_of_the_edited_config_file_reaches_every_worker(
    live: Live, admin: httpx.Client
) -> None:
    new_key = "sk-live-reloaded-" + uuid.uuid4().hex
    assert chat(live, new_key).status == 401
    added = f'  - name: {name("added")}\n    api_keys: [{new_key}]\n    models: ["m"]\n'
    live.config.write_text(config_text(live.mock_url, live.database, added))

    result = created(admin.post("/admin/reload"), 200)
    assert result["reloaded"] is True
    assert result["users"] == 2
    assert result["restart_needed_for"] == []
    settle(live, lambda: chat(live, new_key), 200)
    # The file's other user is untouched.
    settle(live, lambda: chat(live, CONFIG_USER_KEY), 200)
