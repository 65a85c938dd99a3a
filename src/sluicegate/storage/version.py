"""catalog_version in `meta`: the counter every catalog change bumps so other processes reload.

Workers poll `read_version` (one primary-key read) and rebuild their routing and key tables
when it moved. The helpers take a connection so the bump commits with the change it announces.
"""

from __future__ import annotations

from sqlalchemy import Integer, Text, cast, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sluicegate.storage.tables import CATALOG_VERSION_KEY, meta

_KEY = meta.c.key == CATALOG_VERSION_KEY


async def read_version(conn: AsyncConnection) -> int:
    """The current catalog version, 0 before any change."""
    value = await conn.scalar(select(meta.c.value).where(_KEY))
    return int(value) if value is not None else 0


async def bump_version_in(conn: AsyncConnection) -> int:
    """Add one to the catalog version inside the caller's transaction; returns the new value.

    On PostgreSQL the UPDATE row-locks the counter until commit, so concurrent catalog writes
    finish in bump order and no two see the same number.
    """
    value = await conn.scalar(
        update(meta)
        .where(_KEY)
        .values(value=cast(cast(meta.c.value, Integer) + 1, Text))
        .returning(meta.c.value)
    )
    if value is None:  # the row the initial migration inserts was deleted by hand
        await conn.execute(insert(meta).values(key=CATALOG_VERSION_KEY, value="1"))
        return 1
    return int(value)


async def lock_catalog(conn: AsyncConnection) -> None:
    """Serialise with every other catalog writer until the caller's transaction ends.

    PostgreSQL: row lock on the counter (FOR UPDATE). SQLite: nothing to do, the write
    transaction began with BEGIN IMMEDIATE and already holds the database write lock.
    """
    if conn.dialect.name != "sqlite":
        await conn.execute(select(meta.c.value).where(_KEY).with_for_update())
