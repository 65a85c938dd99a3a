"""Row helpers shared by the repositories: the dict shape of a row and catalog inserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row as SARow
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sluicegate.storage import tables as t

Row = dict[str, Any]


def as_dict(row: SARow[Any]) -> Row:
    return dict(row._mapping)


async def insert_row(conn: AsyncConnection, table: Table, values: Mapping[str, Any]) -> Row:
    """Insert one catalog row with created/updated times and, unless `values` names one, a
    fresh id; returns it."""
    now = t.utcnow()
    stamps = {"created_at": now, "updated_at": now} if "updated_at" in table.c else {}
    values = {"id": t.new_id(), **stamps, **values}
    statement = insert(table).values(**values).returning(*table.c)
    return as_dict((await conn.execute(statement)).one())
