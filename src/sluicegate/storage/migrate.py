"""Schema upgrades: run Alembic's `upgrade head` programmatically, safely from many processes.

Every worker process may call `upgrade` at start-up. The whole upgrade runs in one
transaction that first serialises the callers, so the first one migrates and the others then
find the schema at head and do nothing:

    PostgreSQL   pg_advisory_xact_lock(MIGRATION_LOCK), released at commit; DDL is
                 transactional, so a failed upgrade leaves nothing behind
    SQLite       BEGIN IMMEDIATE takes the write lock; later callers wait on busy_timeout
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from sluicegate.errors import StorageUnavailable
from sluicegate.storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision shipped (tests check it against Alembic's own view). A database already
# there is left alone without importing Alembic, which would cost every worker ~10 MB.
HEAD = "0005"

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every sluicegate process; "sluicegate" as a big-endian int64 prefix.
MIGRATION_LOCK = 0x736C7569636567


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema; a no-op when it already is."""
    db = Database(url)
    try:
        async with db.read() as conn:
            if await conn.run_sync(_stored_revision) == HEAD:
                return
        async with db.transaction() as conn:
            if not db.is_sqlite:
                await conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            await conn.run_sync(_upgrade_on)
    finally:
        await db.close()


_CHILD = """
import asyncio, os, sys
from sluicegate.errors import StorageUnavailable
from sluicegate.storage.migrate import upgrade
try:
    asyncio.run(upgrade(os.environ["SLUICEGATE_MIGRATE_URL"]))
except StorageUnavailable as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


async def upgrade_in_child(url: str) -> None:
    """`upgrade`, with Alembic loaded in a short-lived child process when there is work to do.

    A gateway worker that imported Alembic would keep ~12 MB it never uses again; a schema
    already at head is recognised here without it. Raises StorageUnavailable when the child
    could not reach the database.
    """
    db = Database(url)
    try:
        async with db.read() as conn:
            if await conn.run_sync(_stored_revision) == HEAD:
                return
    finally:
        await db.close()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        env={**os.environ, "SLUICEGATE_MIGRATE_URL": url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await child.communicate()
    message = stderr.decode(errors="replace").strip()[-2000:]
    if child.returncode == 3:
        raise StorageUnavailable(message or "database unavailable during migration")
    if child.returncode != 0:
        raise RuntimeError(f"database migration failed: {message}")


async def current_revision(url: str) -> str | None:
    """The revision the database is at, None before the first upgrade."""
    db = Database(url)
    try:
        async with db.read() as conn:
            return await conn.run_sync(_stored_revision)
    finally:
        await db.close()


def head_revision() -> str | None:
    """The newest revision shipped with this version of sluicegate, as Alembic sees it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


def _upgrade_on(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
