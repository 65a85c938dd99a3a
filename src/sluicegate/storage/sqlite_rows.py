"""The statements the request-log writer runs on a SQLite file, on the SQLite writer thread
(`sqlite_thread.py`): its rows, bound as plain tuples, many rows a statement, and the keys'
`last_used_at`.

SQLAlchemy's per-row parameter processing (~20 µs a row) is skipped: `sqlite_values` gives
each row in exactly the stored form SQLAlchemy would have produced. And the rows go in
multi-row `INSERT ... VALUES (...), (...)` statements rather than an `executemany`: the
`sqlite3` module lets go of the GIL around every statement step, and an `executemany` steps
once per row, so on a gateway whose event loop keeps its core busy the database thread waited
for the GIL once per row (up to the 5 ms switch interval each) and a 500-row batch overran
the request log's durability bound (decision 45). Statements of 2^k rows, at most
`MAX_ROWS`, keep the number of distinct statement texts (and so preparations) small.

Converting a batch is Python work done holding the GIL: in one stretch (a few ms for a few
hundred rows) it kept a request that arrived meanwhile waiting for the GIL up to the 5 ms
switch interval. The thread offers the GIL back (`time.sleep(0)`) every `ROWS_PER_GIL_TURN`
rows, so the event loop's thread waits a fraction of a millisecond at most.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean

from sluicegate.storage.tables import UTCDateTime, request_logs

COLUMNS = [column.name for column in request_logs.c if column.name != "id"]
COLUMN_SET = frozenset(COLUMNS)  # rows lacking some (column defaults) take Core's path
_JSON_COLUMNS = frozenset(c.name for c in request_logs.c if isinstance(c.type, JSON))
_TIME_COLUMNS = frozenset(c.name for c in request_logs.c if isinstance(c.type, UTCDateTime))
_BOOL_COLUMNS = frozenset(c.name for c in request_logs.c if isinstance(c.type, Boolean))

# Bound parameters a statement may have: 32,766 since SQLite 3.32, 999 before.
_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
MAX_ROWS = min(256, 1 << ((_MAX_VARIABLES // len(COLUMNS)).bit_length() - 1))
# Rows converted between two offers of the GIL to the event loop's thread (~0.2 ms of work).
ROWS_PER_GIL_TURN = 32
_ROW = f"({', '.join('?' for _ in COLUMNS)})"
_statements: dict[int, str] = {}


def sqlite_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row as SQLAlchemy stores it on SQLite: UTC wall time as 'YYYY-MM-DD HH:MM:SS.ffffff',
    JSON as text, booleans as 0/1."""
    values = []
    for name in COLUMNS:
        value = row.get(name)
        if value is None:
            pass
        elif name in _TIME_COLUMNS:
            value = _stored_time(value)
        elif name in _JSON_COLUMNS:
            value = orjson.dumps(value).decode()
        elif name in _BOOL_COLUMNS:
            value = 1 if value else 0
        values.append(value)
    return tuple(values)


def insert(rows: Sequence[Mapping[str, Any]], conn: sqlite3.Connection) -> None:
    """Insert `rows` (as made by `row_from_completion`) on `conn`, inside its transaction."""
    values = []
    for start in range(0, len(rows), ROWS_PER_GIL_TURN):
        if start:
            time.sleep(0)  # lets the GIL go between slices: see the module docstring
        values += [sqlite_values(row) for row in rows[start : start + ROWS_PER_GIL_TURN]]
    for sql, parameters in statements(values):
        conn.execute(sql, parameters)


def statements(rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(SQL, parameters) of the statements that insert `rows`, in order, skipping a row whose
    `row_key` is stored already: full `MAX_ROWS` statements, then the rest as 2^k-row ones."""
    start = 0
    size = MAX_ROWS
    while start < len(rows):
        while size > len(rows) - start:
            size >>= 1
        chunk = rows[start : start + size]
        start += size
        yield _statement(size), tuple(value for row in chunk for value in row)


def _statement(size: int) -> str:
    sql = _statements.get(size)
    if sql is None:
        sql = _statements[size] = (
            f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES "
            f"{', '.join([_ROW] * size)} ON CONFLICT (row_key) DO NOTHING"
        )
    return sql


def touch_keys(last_used: Mapping[str, datetime], conn: sqlite3.Connection) -> None:
    """`catalog.touch_keys` on `conn`: each key's `last_used_at`, never moved backwards (the
    stored form is UTC wall time as text, whose order is time order)."""
    conn.executemany(
        "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 "
        "AND (last_used_at IS NULL OR last_used_at < ?1)",
        [(_stored_time(when), key_id) for key_id, when in last_used.items()],
    )


def _stored_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
