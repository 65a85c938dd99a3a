"""Request log repository: one row per finished request, the analytics queries and retention.

Listing is newest first, `(created_at, id)` descending, and every filter has an index that
leads with its column and continues with `(created_at, id)` (see `storage.tables`), so a
filtered page is one backwards index range scan. Time ranges are half-open: `since <=
created_at < until`. Listings leave the two body columns out unless asked for them.

Inserts are idempotent: every row carries a `row_key` made when the writer converts the
Completion, and a row whose key is already stored is skipped, so a spool file replayed after
(part of) it reached the database adds nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import partial
from random import Random
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, Insert, case, cast, delete, func, select

from sluicegate.record import Completion
from sluicegate.storage import sqlite_rows
from sluicegate.storage.db import Database
from sluicegate.storage.rows import Row, as_dict
from sluicegate.storage.tables import request_logs

GroupBy = Literal["user", "model", "backend", "day"]

_c = request_logs.c
_BODIES = frozenset({"request_body", "response_body"})
_LIST_COLUMNS = [column for column in _c if column.name not in _BODIES | {"row_key"}]
_NEWEST_FIRST = (_c.created_at.desc(), _c.id.desc())

# A generator of our own, seeded from the OS: code that reseeds the global `random` (a user
# hook, a library, a test framework) can neither make keys repeat nor see them change its state.
_keys = Random()


def new_row_key() -> str:
    """A unique key for one log row: 16 hex digits of wall time in ns, 16 random.

    Time first, so keys of rows written together sit together at the end of the unique
    index (cheap to insert); 64 random bits keep processes and instances apart.
    """
    return f"{time.time_ns():016x}{_keys.getrandbits(64):016x}"


def row_from_completion(completion: Completion) -> Row:
    """The `request_logs` columns of a finished request (every column but `id`), with a fresh
    `row_key`: convert a Completion once, and keep the row (and its key) for every retry."""
    return {
        "row_key": new_row_key(),
        **completion.log_fields(),
        "request_body": completion.request_body,
        "response_body": completion.response_body,
    }


async def insert_rows(db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write a batch of rows (as made by `row_from_completion`) in one transaction; a row
    whose `row_key` is stored already is skipped."""
    if not rows:
        return
    writer = db.sqlite_writer
    if writer is not None and all(row.keys() >= sqlite_rows.COLUMN_SET for row in rows):
        # The log is written on the gateway's own core: see sqlite_rows and sqlite_thread.
        await writer.run(partial(sqlite_rows.insert, rows))
        return
    async with db.transaction() as conn:
        await conn.execute(_insert_skipping_known_keys(db.dialect), [dict(r) for r in rows])


def _insert_skipping_known_keys(dialect: str) -> Insert:
    # Imported here: a SQLite-only worker never loads the PostgreSQL dialect (decision 15).
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(request_logs).on_conflict_do_nothing(index_elements=["row_key"])
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(request_logs).on_conflict_do_nothing(index_elements=["row_key"])


def _filters(
    *,
    user_id: str | None,
    model: str | None,
    backend: str | None,
    status_code: int | None,
    error_type: str | None,
    stream: bool | None,
    since: datetime | None,
    until: datetime | None,
    detail_logged: bool | None,
) -> list[ColumnElement[bool]]:
    equal: dict[str, Any] = {
        "user_id": user_id,
        "model": model,
        "backend": backend,
        "status_code": status_code,
        "error_type": error_type,
        "stream": stream,
        "detail_logged": detail_logged,
    }
    where = [_c[name] == value for name, value in equal.items() if value is not None]
    if since is not None:
        where.append(_c.created_at >= since)
    if until is not None:
        where.append(_c.created_at < until)
    return where


async def query_rows(
    db: Database,
    *,
    limit: int = 50,
    offset: int = 0,
    user_id: str | None = None,
    model: str | None = None,
    backend: str | None = None,
    status_code: int | None = None,
    error_type: str | None = None,
    stream: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    detail_logged: bool | None = None,
    include_bodies: bool = False,
) -> tuple[list[Row], int]:
    """One page of matching rows, newest first, and how many rows match in all."""
    where = _filters(
        user_id=user_id,
        model=model,
        backend=backend,
        status_code=status_code,
        error_type=error_type,
        stream=stream,
        since=since,
        until=until,
        detail_logged=detail_logged,
    )
    columns = list(_c) if include_bodies else _LIST_COLUMNS
    page = select(*columns).where(*where).order_by(*_NEWEST_FIRST).limit(limit).offset(offset)
    async with db.read(snapshot=True) as conn:
        total = await conn.scalar(select(func.count()).select_from(request_logs).where(*where))
        rows = [as_dict(row) for row in await conn.execute(page)]
    return rows, int(total or 0)


async def get_row(db: Database, row_id: int) -> Row | None:
    """One row with its bodies, None when there is no such id."""
    async with db.read() as conn:
        row = (await conn.execute(select(request_logs).where(_c.id == row_id))).first()
    return as_dict(row) if row is not None else None


def _group_column(group_by: GroupBy, dialect: str) -> ColumnElement[Any]:
    if group_by == "day":
        if dialect == "sqlite":
            # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text (tables.UTCDateTime).
            return func.substr(_c.created_at, 1, 10)
        # A date (ISO text in the result): cheaper per row than to_char.
        return cast(func.timezone("UTC", _c.created_at), Date)
    columns = {"user": _c.user_id, "model": _c.model, "backend": _c.backend}
    if group_by not in columns:
        raise ValueError(f"group_by must be user, model, backend or day, not {group_by!r}")
    return columns[group_by]


async def usage(
    db: Database,
    group_by: GroupBy,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Row]:
    """Totals per user id, requested model, backend or UTC day ('YYYY-MM-DD').

    Each item: `{group, requests, errors, prompt_tokens, completion_tokens, total_tokens,
    cost_usd}`; `errors` counts rows with an error_type. Ordered by group, None last.
    """
    group = _group_column(group_by, db.dialect).label("grp")
    where = _filters(
        user_id=None,
        model=None,
        backend=None,
        status_code=None,
        error_type=None,
        stream=None,
        since=since,
        until=until,
        detail_logged=None,
    )
    statement = (
        select(
            group,
            func.count().label("requests"),
            func.sum(case((_c.error_type.is_not(None), 1), else_=0)).label("errors"),
            func.sum(_c.prompt_tokens).label("prompt_tokens"),
            func.sum(_c.completion_tokens).label("completion_tokens"),
            func.sum(_c.total_tokens).label("total_tokens"),
            func.sum(_c.cost_usd).label("cost_usd"),
        )
        .where(*where)
        .group_by(group)
    )
    async with db.read() as conn:
        result = await conn.execute(statement)
        items = [
            {
                "group": row.grp.isoformat() if isinstance(row.grp, date) else row.grp,
                "requests": int(row.requests),
                "errors": int(row.errors or 0),
                "prompt_tokens": int(row.prompt_tokens or 0),
                "completion_tokens": int(row.completion_tokens or 0),
                "total_tokens": int(row.total_tokens or 0),
                "cost_usd": float(row.cost_usd or 0.0),
            }
            for row in result
        ]
    items.sort(key=lambda item: (item["group"] is None, item["group"] or ""))
    return items


async def delete_older_than(db: Database, cutoff: datetime, *, batch: int = 10_000) -> int:
    """Delete rows created before `cutoff`; returns how many went.

    In batches, each its own transaction, so a large purge never holds SQLite's write lock
    (and with it every log insert) for long.
    """
    deleted = 0
    while True:
        ids = select(_c.id).where(_c.created_at < cutoff).limit(batch).scalar_subquery()
        async with db.transaction() as conn:
            count = (await conn.execute(delete(request_logs).where(_c.id.in_(ids)))).rowcount
        deleted += count
        if count < batch:
            return deleted
