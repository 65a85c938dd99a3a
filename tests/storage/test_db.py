from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from sluicegate.storage import catalog
from sluicegate.storage.db import Conflict, Database, StorageUnavailable, map_db_errors

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ping_on_a_reachable_database(db: Database) -> None:
    assert await db.ping() is True


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.read() as conn:
            pragmas = {
                name: await conn.scalar(text(f"PRAGMA {name}"))
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await db.close()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}


async def test_postgres_on_a_closed_port_is_unavailable() -> None:
    db = Database(f"postgresql+asyncpg://u:p@127.0.0.1:{_closed_port()}/x", connect_timeout=2)
    try:
        assert await db.ping() is False
        with pytest.raises(StorageUnavailable):
            await catalog.list_users(db)
    finally:
        await db.close()


async def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    try:
        assert await db.ping() is False
        with pytest.raises(StorageUnavailable):
            await catalog.get_version(db)
    finally:
        await db.close()
    # aiosqlite stops the worker thread of a failed connect without waiting for it; if this
    # loop closed first, the thread would fail to report back (in some later test).
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in set(threading.enumerate()) - before):
        assert time.monotonic() < deadline, "aiosqlite worker threads still running"
        await asyncio.sleep(0.01)


async def test_write_errors_roll_back_the_whole_transaction(db: Database) -> None:
    with pytest.raises(Conflict):
        async with db.transaction() as conn:
            await conn.execute(text("UPDATE meta SET value = '7'"))
            await conn.execute(
                text("INSERT INTO meta (key, value) VALUES ('catalog_version', 'x')")
            )
    assert await catalog.get_version(db) == 0


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), Conflict),
        (exc.OperationalError("SELECT", {}, Exception("database is locked")), StorageUnavailable),
        (exc.InterfaceError("SELECT", {}, Exception("connection closed")), StorageUnavailable),
        (exc.TimeoutError("QueuePool limit reached"), StorageUnavailable),
        (ConnectionRefusedError(111, "refused"), StorageUnavailable),
        (TimeoutError(), StorageUnavailable),
    ],
)
def test_map_db_errors_translates(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as info, map_db_errors():
        raise raised
    assert info.value.__cause__ is raised


def test_map_db_errors_leaves_our_bugs_alone() -> None:
    with pytest.raises(exc.ProgrammingError), map_db_errors():
        raise exc.ProgrammingError("SELEC", {}, Exception("syntax error"))
    with pytest.raises(KeyError), map_db_errors():
        raise KeyError("x")


def test_map_db_errors_sees_asyncpg_behind_sqlalchemys_adapter() -> None:
    """PostgreSQL shutting down: SQLAlchemy raises a plain DBAPIError whose `orig` is its
    adapter's error, caused by asyncpg's CannotConnectNowError. That is an outage (the log
    writer spools), not a bug (it once dropped the batch)."""
    import asyncpg

    adapter_error = Exception("the database system is shutting down")
    adapter_error.__cause__ = asyncpg.CannotConnectNowError("the database system is shutting down")
    raised = exc.DBAPIError("INSERT", {}, adapter_error)
    with pytest.raises(StorageUnavailable), map_db_errors():
        raise raised
