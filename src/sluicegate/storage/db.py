"""Database: the one AsyncEngine of a process, its connection settings and its error boundary.

SQLite (`sqlite+aiosqlite:///./x.db`) and PostgreSQL (`postgresql+asyncpg://...`) are both
first-class. Repositories never touch the engine directly; they run inside

    async with db.read() as conn:          reads, no locks taken (snapshot=True: every
                                           statement sees the same committed state)
    async with db.transaction() as conn:   commit on success, rollback on error; on SQLite a
                                           BEGIN IMMEDIATE, so writers queue on busy_timeout
                                           instead of failing with "database is locked"

both of which translate driver exceptions in `map_db_errors`:

    IntegrityError (unique, foreign key, check)            -> Conflict
    OperationalError (also SQLite's "no such table"
      on a database never upgraded), InterfaceError, pool timeout,
    OSError / ConnectionRefusedError / TimeoutError,
    asyncpg connection errors, invalidated connections     -> StorageUnavailable
    anything else                                          -> unchanged (a bug of ours)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from ..errors import StorageConflict as Conflict
from ..errors import StorageUnavailable
from .sqlite_thread import SqliteWriter


def _driver_unavailable() -> tuple[type[Exception], ...]:
    """asyncpg's connection errors, if asyncpg is in use. Looked up, never imported here: a
    SQLite-only gateway should not pay asyncpg's memory (SQLAlchemy imports it for PostgreSQL
    URLs)."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None:
        return ()
    return (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
    )


__all__ = ["Conflict", "Database", "StorageUnavailable", "map_db_errors"]

DEFAULT_URL = "sqlite+aiosqlite:///./sluicegate.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000


@contextmanager
def map_db_errors() -> Iterator[None]:
    """Translate SQLAlchemy and driver exceptions into `Conflict` / `StorageUnavailable`."""
    try:
        yield
    except exc.IntegrityError as e:
        raise Conflict(str(e.orig or e)) from e
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as e:
        raise StorageUnavailable(_describe(e)) from e
    except exc.DBAPIError as e:
        # SQLAlchemy's asyncpg adapter wraps the driver's exception: look at its cause too
        # ("the database system is shutting down" is CannotConnectNowError underneath).
        cause = getattr(e.orig, "__cause__", None)
        if (
            e.connection_invalidated
            or isinstance(e.orig, _driver_unavailable())
            or isinstance(cause, _driver_unavailable())
        ):
            raise StorageUnavailable(_describe(e)) from e
        raise
    except (OSError, TimeoutError, *_driver_unavailable()) as e:
        raise StorageUnavailable(_describe(e)) from e


def _describe(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return f"{type(orig).__name__}: {orig}"


class Database:
    """An AsyncEngine plus the dialect-specific setup both backends need."""

    def __init__(
        self,
        url: str | URL = DEFAULT_URL,
        *,
        connect_timeout: float = 5.0,
        pool_size: int = 5,
        echo: bool = False,
    ) -> None:
        self.url: URL = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_recycle=1800,
                connect_args=_postgres_connect_args(self.url, connect_timeout),
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # The request log's batches on a SQLite file: one hand-off each (sqlite_thread.py).
        self.sqlite_writer: SqliteWriter | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
            path = self.url.database
            if path and path != ":memory:" and not self.url.query:
                self.sqlite_writer = SqliteWriter(path, SQLITE_BUSY_TIMEOUT_MS)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; its implicit transaction is rolled back at the end.

        `snapshot`: every statement sees the same committed state (REPEATABLE READ on
        PostgreSQL; a SQLite read transaction always does).
        """
        with map_db_errors():
            async with self.engine.connect() as conn:
                if snapshot and not self.is_sqlite:
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a write transaction, committed when the block exits cleanly."""
        with map_db_errors():
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                async with conn.begin():
                    yield conn

    async def ping(self) -> bool:
        """Whether a trivial query succeeds now."""
        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except StorageUnavailable:
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection; the Database must not be used afterwards."""
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()
        await self.engine.dispose()


def _postgres_connect_args(url: URL, connect_timeout: float) -> dict[str, Any]:
    args: dict[str, Any] = {"server_settings": {"timezone": "UTC"}}
    if url.get_driver_name() == "asyncpg":
        args["timeout"] = connect_timeout
    return args


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module (it skips it for SELECT and DDL) so that
    # `_sqlite_on_begin` decides; busy_timeout first so the WAL switch itself may wait.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode = WAL`, waiting while another connection writes.

    On a database still in rollback-journal mode (a fresh file, while another process or task
    runs the first migration) SQLite answers the switch with "database is locked" at once,
    without its busy handler: the switch needs an exclusive lock and waiting could deadlock.
    So it is retried here, with the loop free meanwhile, for as long as busy_timeout allows.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # the driver's OperationalError, as the adapter raises it
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        await_only(asyncio.sleep(delay))
        delay = min(delay * 2, 0.2)


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
