"""SqliteWriter: a thread with its own `sqlite3` connection that runs a whole write transaction
per hand-off, for the request log's batches on a SQLite database.

Through SQLAlchemy and aiosqlite every step of a transaction (BEGIN, each statement, each
cursor, COMMIT) is a round trip between the event loop and aiosqlite's thread. On a gateway
whose loop keeps its core busy each round trip waited for a turn of the loop and for the GIL
(up to its 5 ms switch interval), so a batch of a few hundred rows took about a second and
overran the request log's durability bound under load, and the loop converted the rows in
one stretch meanwhile. Here the batch goes over once, its rows are converted and written on
the thread (`BEGIN IMMEDIATE` ... `COMMIT`, busy_timeout as for every other connection), and
the loop hears back once (decision 45).

The connection is the same file in the same WAL mode as the engine's; SQLite serialises it
with them as with any other writer. Errors come back as `StorageUnavailable` (locked, I/O,
a missing table) or `StorageConflict`, like `Database.transaction()`'s.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..errors import StorageConflict, StorageUnavailable

T = TypeVar("T")


class SqliteWriter:
    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sluicegate-sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._used = False

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` inside one write transaction, committed if it returns."""
        loop = asyncio.get_running_loop()
        self._used = True
        try:
            return await loop.run_in_executor(self._executor, self._transaction, work)
        except sqlite3.IntegrityError as exc:
            raise StorageConflict(str(exc)) from exc
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _connect(self) -> sqlite3.Connection:
        # isolation_level None: BEGIN and COMMIT are ours, as on the engine's connections.
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def close(self) -> None:
        """Close the connection on its thread once any transaction still running has ended;
        the thread then exits. Nothing else is started: a writer never used has no thread."""
        if self._used:
            await asyncio.wrap_future(self._executor.submit(self._close))
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
