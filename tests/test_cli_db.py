"""`sluicegate db upgrade`, `sluicegate keys create` and request log retention, as users run
them: real subprocesses in a temp cwd, the SQLite file inspected with the stdlib `sqlite3`."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.storage.db import Database
from sluicegate.storage.request_log import insert_rows
from support import clean_env, free_port, sluicegate, wait_for_http, wait_until

MASTER_KEY = "sk-master-cli-db"
CAROL_KEY = "sk-carol-from-the-file"
TABLES = {"backends", "models", "users", "api_keys", "permissions", "request_logs", "meta"}


def gateway_yaml(database: str = "./gw.db", *, users: bool = True, extra: str = "") -> str:
    text = (
        f"server:\n  master_key: {MASTER_KEY}\n"
        f"database:\n  url: sqlite+aiosqlite:///{database}\n"
        "backends:\n  - {name: demo, type: demo, models: [demo-echo]}\n"
        "models:\n  - name: demo-echo\n    targets: [{backend: demo, model: demo-echo}]\n"
    )
    if users:
        text += f'users:\n  - {{name: carol, api_keys: [{CAROL_KEY}], models: ["*"], rpm: 7}}\n'
    return text + extra


def create_key(cwd: Path, *args: str) -> str:
    """`sluicegate keys create ARGS`; the key it printed (the last stdout line)."""
    result = sluicegate("keys", "create", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    key = lines[-1].strip()
    assert key.startswith("sk-sg-"), result.stdout
    assert "shown only this once" in result.stderr
    return key


@contextmanager
def serving(config: Path, cwd: Path) -> Iterator[str]:
    """`sluicegate serve --config CONFIG` in the background until /health answers; its URL."""
    port = free_port()
    output = cwd / f"serve-{port}.log"
    command = [sys.executable, "-m", "sluicegate", "serve", "--config", str(config)]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                wait_for_http(url + "/health", timeout=30)
            except AssertionError:
                raise AssertionError(f"gateway did not start:\n{output.read_text()}") from None
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


def chat(url: str, key: str, text: str = "hello") -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions",
        json={"model": "demo-echo", "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def query(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, params).fetchall()


def schema(database: Path) -> list[tuple[Any, ...]]:
    return query(database, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")


def database_bytes(database: Path) -> bytes:
    """The database file with its WAL and shared-memory files, if any."""
    return b"".join(p.read_bytes() for p in sorted(database.parent.glob(database.name + "*")))


# db upgrade


def test_db_upgrade_creates_the_tables_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(gateway_yaml())
    database = tmp_path / "gw.db"

    first = sluicegate("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    tables = {name for (name,) in query(database, "SELECT name FROM sqlite_master")}
    assert tables >= TABLES | {"alembic_version"}
    (revision,) = query(database, "SELECT version_num FROM alembic_version")[0]
    assert f"revision {revision} (head)" in first.stdout
    assert "upgraded" in first.stdout
    before = schema(database)

    second = sluicegate("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"already at revision {revision} (head)" in second.stdout
    assert schema(database) == before
    assert query(database, "SELECT version_num FROM alembic_version") == [(revision,)]
    # db upgrade migrates only: the file's users are written by the gateway at start.
    assert query(database, "SELECT count(*) FROM users") == [(0,)]


def test_keys_create_without_a_config_uses_the_embedded_defaults_database(tmp_path: Path) -> None:
    key = create_key(tmp_path, "--user", "alice", "--models", "demo-echo")
    database = tmp_path / "sluicegate.db"
    assert database.exists()
    rows = query(
        database,
        "SELECT u.name, u.models, u.source, k.source FROM api_keys k "
        "JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
        hashlib.sha256(key.encode()).hexdigest(),
    )
    assert rows == [("alice", '["demo-echo"]', "api", "api")]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["keys", "create", "--user", "x"]])
def test_an_unreachable_postgresql_exits_1_with_a_message(
    tmp_path: Path, command: list[str]
) -> None:
    config = tmp_path / "pg.yaml"
    config.write_text(
        f"database:\n  url: postgresql+asyncpg://gw:pw-secret@127.0.0.1:{free_port()}/gw\n"
    )
    result = sluicegate(*command, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "unreachable" in result.stderr
    assert "127.0.0.1" in result.stderr
    assert "pw-secret" not in result.stdout + result.stderr
    assert result.stdout == ""


# keys create


def test_keys_create_stores_only_the_hash_and_a_running_gateway_accepts_new_keys(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(gateway_yaml())
    database = tmp_path / "gw.db"

    result = sluicegate(
        "keys", "create", "--user", "bob", "--models", "*", "--rpm", "5", "--config", str(config),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bob_key = result.stdout.splitlines()[-1]
    assert bob_key.startswith("sk-sg-")
    assert result.stdout.count(bob_key) == 1
    assert bob_key not in result.stderr

    digest = hashlib.sha256(bob_key.encode()).hexdigest()
    rows = query(
        database, "SELECT key_hash, prefix, source, revoked_at FROM api_keys WHERE key_hash = ?",
        digest,
    )  # fmt: skip
    assert len(rows) == 1
    _, prefix, source, revoked = rows[0]
    assert (source, revoked) == ("api", None)
    assert bob_key.startswith(prefix.rstrip("…")) and len(prefix) < len(bob_key) // 2
    assert query(database, "SELECT models, rpm, tpm, source FROM users WHERE name = 'bob'") == [
        ('["*"]', 5, None, "api")
    ]
    assert bob_key.encode() not in database_bytes(database)

    with serving(config, tmp_path) as url:
        first = chat(url, bob_key, "hello from the cli")
        assert first.status_code == 200, first.text
        assert first.json()["choices"][0]["message"]["content"] == "hello from the cli"
        assert chat(url, "sk-sg-not-a-key").status_code == 401

        # Created while the gateway runs: accepted once the gateway sees the catalog change.
        second_key = create_key(tmp_path, "--user", "bob", "--config", str(config))
        assert second_key != bob_key
        wait_until(lambda: chat(url, second_key).status_code != 401, timeout=10, interval=0.1)
        assert chat(url, second_key).status_code == 200

        # rpm 5 from the command line applies to the user (both keys): 3 requests so far.
        assert chat(url, bob_key).status_code == 200
        assert chat(url, second_key).status_code == 200
        limited = chat(url, second_key)
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"

        # A new user without --models exists, but may call nothing.
        dave_key = create_key(tmp_path, "--user", "dave", "--config", str(config))
        wait_until(lambda: chat(url, dave_key).status_code != 401, timeout=10, interval=0.1)
        refused = chat(url, dave_key)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "model_not_allowed"

    assert query(database, "SELECT count(*) FROM api_keys WHERE source = 'api'") == [(3,)]
    assert query(database, "SELECT models FROM users WHERE name = 'dave'") == [("[]",)]
    assert query(database, "SELECT models, rpm FROM users WHERE name = 'bob'") == [('["*"]', 5)]


def test_keys_create_refuses_to_change_limits_of_a_config_file_user(tmp_path: Path) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(gateway_yaml())
    database = tmp_path / "gw.db"

    for option in (["--rpm", "9"], ["--tpm", "9"], ["--models", "other"]):
        refused = sluicegate(
            "keys", "create", "--user", "carol", *option, "--config", str(config), cwd=tmp_path
        )
        assert refused.returncode == 1, option
        assert refused.stdout == ""
        assert "config file" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert query(database, "SELECT count(*) FROM api_keys") == [(0,)]

    # Without limits a key can be added to a file user; the user keeps the file's settings.
    key = create_key(tmp_path, "--user", "carol", "--config", str(config))
    assert query(database, "SELECT models, rpm, source FROM users WHERE name = 'carol'") == [
        ('["*"]', 7, "config")
    ]
    owner = query(
        database,
        "SELECT u.name FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
        hashlib.sha256(key.encode()).hexdigest(),
    )
    assert owner == [("carol",)]

    # Still refused through a config that does not list carol: the database says she is the
    # file's.
    other = tmp_path / "other.yaml"
    other.write_text(gateway_yaml(users=False))
    refused = sluicegate(
        "keys", "create", "--user", "carol", "--rpm", "9", "--config", str(other), cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "config file" in refused.stderr
    assert query(database, "SELECT rpm FROM users WHERE name = 'carol'") == [(7,)]

    # The gateway keeps both the file's key and the one added on the command line.
    with serving(config, tmp_path) as url:
        assert chat(url, CAROL_KEY).status_code == 200
        assert chat(url, key).status_code == 200


# retention


def test_retention_deletes_old_request_log_rows_at_start(tmp_path: Path) -> None:
    config = tmp_path / "sluicegate.yaml"
    config.write_text(gateway_yaml(extra="logging:\n  retention_days: 3\n"))
    database = tmp_path / "gw.db"
    upgraded = sluicegate("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr

    now = datetime.now(UTC)

    def row(request_id: str, created_at: datetime) -> dict[str, Any]:
        return {
            "request_id": request_id,
            "created_at": created_at,
            "path": "/v1/chat/completions",
            "model": "demo-echo",
            "stream": False,
            "status_code": 200,
        }

    async def insert() -> None:
        db = Database(f"sqlite+aiosqlite:///{database}")
        try:
            await insert_rows(
                db,
                [
                    row("old-1", now - timedelta(days=10)),
                    row("old-2", now - timedelta(days=4)),
                    row("fresh", now - timedelta(hours=1)),
                ],
            )
        finally:
            await db.close()

    asyncio.run(insert())
    ours = "SELECT request_id FROM request_logs WHERE request_id IN ('old-1', 'old-2', 'fresh')"
    assert {r for (r,) in query(database, ours)} == {"old-1", "old-2", "fresh"}

    with serving(config, tmp_path):
        wait_until(lambda: {r for (r,) in query(database, ours)} == {"fresh"}, timeout=15)
    assert {r for (r,) in query(database, ours)} == {"fresh"}
