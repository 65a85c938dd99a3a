from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sluicegate.record import Attempt, Completion, Usage
from sluicegate.storage import request_log
from sluicegate.storage.db import Database
from support import BASE_COMPLETION, DAY, HOUR, T0, completion

pytestmark = pytest.mark.anyio


# (request_id -> completion), oldest first; r5 and r6 share a timestamp (id breaks the tie).
COMPLETIONS = [
    completion(1, T0),
    completion(2, T0 + HOUR, model="m2", backend="b2", stream=True, status_code=499,
               error_type="client_disconnected", ttft_ms=80.0),
    completion(3, T0 + DAY, user_id="bob", key_id="k2", usage=Usage(100, 50, 150), cost_usd=1.0),
    completion(4, T0 + DAY + HOUR, user_id=None, key_id=None, model=None, resolved_model=None,
               backend=None, status_code=401, error_type="auth_error", usage=Usage(),
               cost_usd=0.0),
    completion(5, T0 + 2 * DAY, user_id="bob", backend="b2", status_code=502,
               error_type="upstream_error", error_message="boom", detail_logged=True,
               request_body='{"model": "m1"}', response_body="oops", usage=Usage(7, 0, 7),
               cost_usd=0.5),
    completion(6, T0 + 2 * DAY, user_id="bob", usage=Usage(1, 1, 2, estimated=True),
               cost_usd=0.125),
]  # fmt: skip


@pytest.fixture
async def logged(db: Database) -> Database:
    await request_log.insert_rows(db, [])
    rows = [request_log.row_from_completion(c) for c in COMPLETIONS]
    await request_log.insert_rows(db, rows[:2])
    await request_log.insert_rows(db, rows[2:])
    return db


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["request_id"] for row in rows]


def test_row_from_completion_maps_every_field() -> None:
    attempts = (
        Attempt("b0", "x", 503, "upstream_error", 10.12345),
        Attempt("b1", "gpt-4o", 200, None, 20.0),
    )
    row = request_log.row_from_completion(
        replace(
            BASE_COMPLETION, attempts=attempts, client_ip="10.0.0.1", usage=Usage(1, 2, 3, True)
        )
    )
    assert row["created_at"] == T0
    assert row["attempts"] == [
        {"backend": "b0", "model": "x", "status_code": 503, "error_type": "upstream_error",
         "latency_ms": 10.123},
        {"backend": "b1", "model": "gpt-4o", "status_code": 200, "error_type": None,
         "latency_ms": 20.0},
    ]  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1, 2, 3)
    assert row["usage_estimated"] is True and row["client_ip"] == "10.0.0.1"
    assert "id" not in row and "overhead_ms" not in row
    assert len(row["row_key"]) == 32
    assert row["row_key"] != request_log.row_from_completion(BASE_COMPLETION)["row_key"]


async def test_a_row_whose_key_is_stored_already_is_skipped(db: Database) -> None:
    """Replaying a spool file that partly reached the database adds nothing twice, on the
    SQLite fast path and on Core's path (a row lacking a column with a default)."""
    rows = [request_log.row_from_completion(c) for c in COMPLETIONS]
    await request_log.insert_rows(db, rows[:3])
    await request_log.insert_rows(db, rows)
    lacking = [{k: v for k, v in row.items() if k != "usage_estimated"} for row in rows]
    await request_log.insert_rows(db, lacking)
    stored, total = await request_log.query_rows(db, limit=100)
    assert total == len(COMPLETIONS)
    assert sorted(ids(stored)) == sorted(c.request_id for c in COMPLETIONS)
    assert "row_key" not in stored[0]  # an internal column, not listed


async def test_a_large_batch_is_stored_once_row_by_row(db: Database) -> None:
    """A batch of 300 rows (on SQLite: statements of 256, 32, 8 and 4 rows), holding a row
    twice and rows stored already, stores every distinct row exactly once, in its own form."""
    rows = [
        request_log.row_from_completion(replace(COMPLETIONS[n % 6], request_id=f"big-{n}"))
        for n in range(297)
    ]
    await request_log.insert_rows(db, rows[:5])
    await request_log.insert_rows(db, [*rows, rows[7], rows[0], rows[296]])
    stored, total = await request_log.query_rows(db, limit=1000, include_bodies=True)
    assert total == 297
    assert sorted(ids(stored)) == sorted(f"big-{n}" for n in range(297))
    by_id = {row["request_id"]: row for row in stored}
    for n in (0, 1, 4, 5, 200, 296):
        source = COMPLETIONS[n % 6]
        row = by_id[f"big-{n}"]
        assert (row["user_id"], row["status_code"], row["cost_usd"]) == (
            source.user_id,
            source.status_code,
            source.cost_usd,
        )
        assert row["response_body"] == source.response_body


async def test_rows_come_back_newest_first_with_total(logged: Database) -> None:
    rows, total = await request_log.query_rows(logged)
    assert total == 6
    assert ids(rows) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert rows[0]["id"] > rows[1]["id"]  # same created_at: the later insert first
    assert "request_body" not in rows[0] and "response_body" not in rows[0]
    r2 = rows[4]
    assert (r2["stream"], r2["status_code"], r2["ttft_ms"]) == (True, 499, 80.0)
    assert r2["created_at"] == T0 + HOUR and r2["attempts"] == []
    assert rows[0]["usage_estimated"] is True


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"user_id": "bob"}, ["r6", "r5", "r3"]),
        ({"model": "m2"}, ["r2"]),
        ({"backend": "b2"}, ["r5", "r2"]),
        ({"status_code": 200}, ["r6", "r3", "r1"]),
        ({"error_type": "auth_error"}, ["r4"]),
        ({"stream": True}, ["r2"]),
        ({"stream": False, "user_id": "alice"}, ["r1"]),
        ({"detail_logged": True}, ["r5"]),
        ({"detail_logged": False, "backend": "b2"}, ["r2"]),
        ({"since": T0 + HOUR}, ["r6", "r5", "r4", "r3", "r2"]),
        ({"until": T0 + DAY}, ["r2", "r1"]),  # until is exclusive
        ({"since": T0 + DAY, "until": T0 + 2 * DAY}, ["r4", "r3"]),
        ({"user_id": "bob", "since": T0 + DAY + HOUR}, ["r6", "r5"]),
        ({"model": "m1", "backend": "b1", "status_code": 200}, ["r6", "r3", "r1"]),
        ({"user_id": "nobody"}, []),
    ],
)
async def test_filters(logged: Database, filters: dict[str, Any], expected: list[str]) -> None:
    rows, total = await request_log.query_rows(logged, **filters)
    assert ids(rows) == expected
    assert total == len(expected)


async def test_limit_and_offset_page_through_without_changing_total(logged: Database) -> None:
    pages = [await request_log.query_rows(logged, limit=4, offset=o) for o in (0, 4, 8)]
    assert [(ids(rows), total) for rows, total in pages] == [
        (["r6", "r5", "r4", "r3"], 6),
        (["r2", "r1"], 6),
        ([], 6),
    ]
    rows, total = await request_log.query_rows(logged, user_id="bob", limit=1, offset=1)
    assert (ids(rows), total) == (["r5"], 3)


async def test_bodies_only_when_asked_and_by_id(logged: Database) -> None:
    rows, _ = await request_log.query_rows(logged, detail_logged=True, include_bodies=True)
    assert (rows[0]["request_body"], rows[0]["response_body"]) == ('{"model": "m1"}', "oops")
    row = await request_log.get_row(logged, rows[0]["id"])
    assert row == rows[0]
    assert row is not None and row["error_message"] == "boom"
    assert await request_log.get_row(logged, 10**9) is None


def totals(group: Any, rows: list[Completion]) -> dict[str, Any]:
    return {
        "group": group,
        "requests": len(rows),
        "errors": sum(c.error_type is not None for c in rows),
        "prompt_tokens": sum(c.usage.prompt_tokens for c in rows),
        "completion_tokens": sum(c.usage.completion_tokens for c in rows),
        "total_tokens": sum(c.usage.total_tokens for c in rows),
        "cost_usd": sum(c.cost_usd for c in rows),
    }


async def test_usage_by_every_grouping(logged: Database) -> None:
    r1, r2, r3, r4, r5, r6 = COMPLETIONS
    assert await request_log.usage(logged, "user") == [
        totals("alice", [r1, r2]),
        totals("bob", [r3, r5, r6]),
        totals(None, [r4]),
    ]
    assert await request_log.usage(logged, "model") == [
        totals("m1", [r1, r3, r5, r6]),
        totals("m2", [r2]),
        totals(None, [r4]),
    ]
    assert await request_log.usage(logged, "backend") == [
        totals("b1", [r1, r3, r6]),
        totals("b2", [r2, r5]),
        totals(None, [r4]),
    ]
    assert await request_log.usage(logged, "day") == [
        totals("2030-01-01", [r1, r2]),
        totals("2030-01-02", [r3, r4]),
        totals("2030-01-03", [r5, r6]),
    ]


async def test_usage_over_a_time_range(logged: Database) -> None:
    _r1, r2, r3, r4, *_ = COMPLETIONS
    assert await request_log.usage(logged, "day", since=T0 + HOUR, until=T0 + 2 * DAY) == [
        totals("2030-01-01", [r2]),
        totals("2030-01-02", [r3, r4]),
    ]
    assert await request_log.usage(logged, "user", since=T0 + 3 * DAY) == []
    with pytest.raises(ValueError, match="group_by"):
        await request_log.usage(logged, "colour")  # type: ignore[arg-type]


async def test_delete_older_than(logged: Database) -> None:
    assert await request_log.delete_older_than(logged, T0) == 0
    assert await request_log.delete_older_than(logged, T0 + 2 * DAY, batch=2) == 4
    rows, total = await request_log.query_rows(logged)
    assert (ids(rows), total) == (["r6", "r5"], 2)
    assert await request_log.delete_older_than(logged, T0 + 3 * DAY, batch=2) == 2
    assert await request_log.query_rows(logged) == ([], 0)


async def test_sqlite_fast_insert_stores_exactly_what_sqlalchemy_would(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """insert_rows binds plain tuples on SQLite; a row written that way must read back, filter
    and sort exactly like the same row written through SQLAlchemy's own insert."""
    from sqlalchemy import insert

    from sluicegate.storage.migrate import upgrade
    from sluicegate.storage.tables import request_logs

    url = f"sqlite+aiosqlite:///{tmp_path}/fast.db"
    await upgrade(url)
    db = Database(url)
    try:
        for completion in COMPLETIONS:
            row = request_log.row_from_completion(completion)
            await request_log.insert_rows(db, [row])
            async with db.transaction() as conn:
                await conn.execute(insert(request_logs), [{**row, "row_key": None}])
        rows, total = await request_log.query_rows(db, limit=1000, include_bodies=True)
        assert total == 2 * len(COMPLETIONS)
        by_id = sorted(rows, key=lambda r: r["id"])
        for fast, slow in zip(by_id[0::2], by_id[1::2], strict=True):
            assert {k: v for k, v in fast.items() if k not in ("id", "row_key")} == {
                k: v for k, v in slow.items() if k not in ("id", "row_key")
            }
        first = request_log.row_from_completion(COMPLETIONS[0])["created_at"]
        _, in_range = await request_log.query_rows(db, since=first, until=first + HOUR)
        assert in_range % 2 == 0 and in_range >= 2
    finally:
        await db.close()


async def test_sqlite_writer_errors_are_storage_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The SQLite writer thread fails like `Database.transaction()` does: a database never
    upgraded (no table) or unreadable is `StorageUnavailable`, so the writer spools the rows;
    the same Database writes once the file is fine."""
    from sluicegate.storage.db import StorageUnavailable
    from sluicegate.storage.migrate import upgrade

    path = tmp_path / "log.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    assert db.sqlite_writer is not None
    row = request_log.row_from_completion(COMPLETIONS[0])
    try:
        with pytest.raises(StorageUnavailable, match="no such table"):
            await request_log.insert_rows(db, [row])
        await upgrade(f"sqlite+aiosqlite:///{path}")
        await request_log.insert_rows(db, [row])
        assert ids((await request_log.query_rows(db))[0]) == [COMPLETIONS[0].request_id]
    finally:
        await db.close()
    broken = tmp_path / "not-a-database.db"
    broken.write_bytes(b"this is not a SQLite file" * 100)
    db = Database(f"sqlite+aiosqlite:///{broken}")
    try:
        with pytest.raises(StorageUnavailable):
            await request_log.insert_rows(db, [row])
    finally:
        await db.close()
