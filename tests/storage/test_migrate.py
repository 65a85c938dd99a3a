from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from sluicegate.storage.db import Database
from sluicegate.storage.migrate import current_revision, head_revision, upgrade
from sluicegate.storage.tables import meta, metadata

RunAsync = Callable[[Coroutine[Any, Any, Any]], Any]


TABLES = {"backends", "models", "users", "api_keys", "permissions", "request_logs", "meta"}


def _schema_report(conn: Connection) -> tuple[set[str], list[object]]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return set(inspect(conn).get_table_names()), compare_metadata(context, metadata)


async def _report(url: str) -> tuple[set[str], list[object], list[tuple[str, str]]]:
    db = Database(url)
    try:
        async with db.read() as conn:
            tables, diff = await conn.run_sync(_schema_report)
            rows = [tuple(row) for row in await conn.execute(select(meta))]
    finally:
        await db.close()
    return tables, diff, rows  # type: ignore[return-value]


@pytest.mark.anyio
async def test_upgrade_creates_every_table_matching_tables_py(db_url: str) -> None:
    assert await current_revision(db_url) is None
    await upgrade(db_url)
    tables, diff, meta_rows = await _report(db_url)
    assert tables >= TABLES | {"alembic_version"}
    assert diff == []
    assert meta_rows == [("catalog_version", "0")]
    assert await current_revision(db_url) == head_revision() == "0005"


@pytest.mark.anyio
async def test_second_upgrade_is_a_no_op(db_url: str) -> None:
    await upgrade(db_url)
    await upgrade(db_url)
    tables, diff, meta_rows = await _report(db_url)
    assert tables >= TABLES
    assert diff == []
    assert meta_rows == [("catalog_version", "0")]


@pytest.mark.anyio
async def test_concurrent_upgrades_from_tasks(db_url: str) -> None:
    await asyncio.gather(*(upgrade(db_url) for _ in range(4)))
    _, diff, meta_rows = await _report(db_url)
    assert diff == []
    assert meta_rows == [("catalog_version", "0")]


def test_concurrent_upgrades_from_processes(db_url: str, run_async: RunAsync) -> None:
    code = "import asyncio, sys; from sluicegate.storage.migrate import upgrade; "
    code += "asyncio.run(upgrade(sys.argv[1]))"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    _, diff, meta_rows = run_async(_report(db_url))
    assert diff == []
    assert meta_rows == [("catalog_version", "0")]


def test_head_constant_matches_the_shipped_migrations() -> None:
    from sluicegate.storage.migrate import HEAD, head_revision

    assert head_revision() == HEAD


@pytest.mark.anyio
async def test_a_connection_waits_for_a_writer_before_switching_a_fresh_file_to_wal(
    tmp_path: Path,
) -> None:
    """A fresh file is in rollback-journal mode; while another connection writes, SQLite
    refuses the WAL switch at once ("database is locked", no busy wait). Connecting must wait
    for the writer instead of failing: the race behind a worker starting while another runs the
    first migration (seen as a flaky concurrent-upgrades test)."""
    path = tmp_path / "fresh.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE t (x)")
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, writer.execute, "COMMIT")  # the writer finishes a moment later
        async with db.read() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
    finally:
        await db.close()
        writer.close()
