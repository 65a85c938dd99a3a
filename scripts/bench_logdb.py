"""Request-log benchmark: fill request_logs with synthetic rows, time the analytics queries.

    .venv/bin/python scripts/bench_logdb.py                        # SQLite, 1,000,000 rows
    .venv/bin/python scripts/bench_logdb.py --postgres URL         # and PostgreSQL
    .venv/bin/python scripts/bench_logdb.py --rows 100000 --no-sqlite --postgres URL

The table is filled with the database's own bulk path (sqlite3 executemany, asyncpg COPY):
rows spread over the last 30 days, ~50 users (skewed), 10 models, 5 backends, 3% errors.
Every query then goes through `sluicegate.storage.request_log`, the code the admin API runs;
each is run once to warm up and then `--repeat` times, the median is reported. The PostgreSQL
URL's database is emptied first (request_logs only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sluicegate.storage import request_log, timeseries
from sluicegate.storage.db import Database
from sluicegate.storage.migrate import upgrade

COLUMNS = [
    "request_id", "created_at", "user_id", "key_id", "path", "model", "resolved_model",
    "backend", "stream", "status_code", "error_type", "error_message", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd", "latency_ms", "ttft_ms", "attempts",
    "client_ip", "detail_logged", "request_body", "response_body", "usage_estimated",
]  # fmt: skip
USERS = [f"user{i:02d}" for i in range(50)]
MODELS = [f"model-{i}" for i in range(10)]
BACKENDS = [f"backend-{i}" for i in range(5)]
ERRORS = [
    ("upstream_error", 502), ("timeout", 504), ("client_disconnected", 499),
    ("rate_limited", 429), ("upstream_disconnected", 200), ("auth_error", 401),
]  # fmt: skip
NOW = datetime.now(UTC).replace(microsecond=0)


def generate(count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """Rows in time order (ids grow with created_at, as in a live gateway)."""
    rnd = random.Random(seed)
    start = NOW - timedelta(days=30)
    step = timedelta(days=30) / count
    user_weights = [1 / (i + 1) for i in range(len(USERS))]
    users = rnd.choices(USERS, user_weights, k=count)
    for i in range(count):
        m = rnd.randrange(len(MODELS))
        model = MODELS[m]
        # Mostly the model's home backend, sometimes a fallback.
        backend = BACKENDS[
            m % len(BACKENDS) if rnd.random() < 0.8 else rnd.randrange(len(BACKENDS))
        ]
        stream = rnd.random() < 0.6
        error_type, status = (
            ERRORS[rnd.randrange(len(ERRORS))] if rnd.random() < 0.03 else (None, 200)
        )
        prompt, completion = rnd.randrange(20, 4000), rnd.randrange(0, 1000)
        latency = rnd.uniform(50, 5000)
        attempts = [{"backend": backend, "model": model, "status_code": status,
                     "error_type": error_type, "latency_ms": round(latency, 3)}]  # fmt: skip
        yield (
            f"req-{i:08d}", start + step * i, users[i], f"key-{users[i]}", "/v1/chat/completions",
            model, model + "-upstream", backend, stream, status, error_type,
            "upstream said no" if error_type else None, prompt, completion, prompt + completion,
            (prompt * 2.5 + completion * 10) / 1e6, latency,
            rnd.uniform(20, 800) if stream else None, json.dumps(attempts), "10.0.0.1",
            False, None, None, False,
        )  # fmt: skip


def fill_sqlite(path: Path, count: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    placeholders = ", ".join("?" for _ in COLUMNS)
    statement = f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    with conn:
        conn.executemany(
            statement,
            # Same text form SQLAlchemy stores for tables.UTCDateTime on SQLite.
            (
                (*row[:1], row[1].replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"), *row[2:])
                for row in generate(count)
            ),
        )
    conn.execute("ANALYZE")
    conn.close()


async def fill_postgres(url: str, count: int) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database=u.database
    )
    try:
        await conn.execute("TRUNCATE request_logs RESTART IDENTITY")
        batch: list[tuple[Any, ...]] = []
        for row in generate(count):
            batch.append(row)
            if len(batch) == 100_000:
                await conn.copy_records_to_table("request_logs", records=batch, columns=COLUMNS)
                batch = []
        if batch:
            await conn.copy_records_to_table("request_logs", records=batch, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE request_logs")
    finally:
        await conn.close()


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    result = await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


async def series(db: Database, bucket: Any, since: datetime, **filters: Any) -> list[Any]:
    """What GET /admin/analytics/timeseries runs: buckets from `since` to the current one."""
    until = timeseries.floor(NOW, bucket) + timeseries.WIDTH[bucket]
    return await timeseries.timeseries(db, bucket, since, until, **filters)


def describe(result: Any) -> str:
    if isinstance(result, tuple):
        return f"{len(result[0])} rows of {result[1]}"
    if isinstance(result, list) and result and "start" in result[0]:
        return f"{len(result)} buckets, {sum(b['requests'] for b in result):,} rows"
    if isinstance(result, list):
        return f"{len(result)} groups"
    return "found" if result else "missing"


async def run_queries(db: Database, repeat: int) -> list[tuple[str, float, str]]:
    week = NOW - timedelta(days=7)
    day = NOW - timedelta(days=1)
    hour = timedelta(hours=1)
    newest = (await request_log.query_rows(db, limit=1))[0][0]["id"]
    cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("newest 50 (+ total of all rows)", lambda: request_log.query_rows(db, limit=50)),
        ("newest 50 at offset 10,000", lambda: request_log.query_rows(db, limit=50, offset=10_000)),
        ("user (5th busiest) newest 50", lambda: request_log.query_rows(db, user_id="user04")),
        ("user (rarest) newest 50", lambda: request_log.query_rows(db, user_id="user49")),
        ("model + last 7 days", lambda: request_log.query_rows(db, model="model-3", since=week)),
        ("backend + last day", lambda: request_log.query_rows(db, backend="backend-2", since=day)),
        ("error_type=timeout", lambda: request_log.query_rows(db, error_type="timeout")),
        ("status 502 + 7 days", lambda: request_log.query_rows(db, status_code=502, since=week)),
        ("stream=true + last day", lambda: request_log.query_rows(db, stream=True, since=day)),
        ("get_row by id (with bodies)", lambda: request_log.get_row(db, newest)),
        ("usage by user, 7 days", lambda: request_log.usage(db, "user", since=week)),
        ("usage by model, 7 days", lambda: request_log.usage(db, "model", since=week)),
        ("usage by backend, 7 days", lambda: request_log.usage(db, "backend", since=week)),
        ("usage by day, 7 days", lambda: request_log.usage(db, "day", since=week)),
        ("usage by day, 30 days", lambda: request_log.usage(db, "day")),
        ("timeseries minute, last hour", lambda: series(db, "minute", NOW - hour)),
        ("timeseries hour, last day", lambda: series(db, "hour", day)),
        ("timeseries minute, last day", lambda: series(db, "minute", day)),
        ("timeseries hour + model, 7 days", lambda: series(db, "hour", week, model="model-3")),
        ("timeseries day, 30 days", lambda: series(db, "day", NOW - timedelta(days=30))),
    ]  # fmt: skip
    results = []
    for name, fn in cases:
        ms, result = await timed(fn, repeat)
        results.append((name, ms, describe(result)))
    return results


async def insert_rate(db: Database, batches: int = 5, size: int = 1000) -> float:
    """Rows/s through `insert_rows`, the log writer's path (SQLAlchemy executemany)."""
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in generate(size, seed=99)]
    for row in rows:
        row["attempts"] = json.loads(row["attempts"])
        row["created_at"] = NOW
    started = time.perf_counter()
    for _ in range(batches):
        for row in rows:  # a fresh key: a stored one would be skipped
            row["row_key"] = request_log.new_row_key()
        await request_log.insert_rows(db, rows)
    return batches * size / (time.perf_counter() - started)


async def bench(
    name: str, url: str, count: int, fill: Callable[[], Awaitable[None]], repeat: int
) -> None:
    await upgrade(url)
    started = time.perf_counter()
    await fill()
    fill_s = time.perf_counter() - started
    db = Database(url)
    try:
        results = await run_queries(db, repeat)
        rate = await insert_rate(db)
        cutoff = NOW - timedelta(days=29)
        started = time.perf_counter()
        deleted = await request_log.delete_older_than(db, cutoff)
        delete_ms = (time.perf_counter() - started) * 1000
        async with db.read() as conn:
            server = await conn.scalar(
                text("SELECT sqlite_version()" if db.is_sqlite else "SHOW server_version")
            )
    finally:
        await db.close()
    print(f"\n## {name} {server}: {count:,} rows, filled in {fill_s:.1f} s")
    print(f"| {'query':<34} | {'median ms':>9} | result |")
    print(f"|{'-' * 36}|{'-' * 11}|--------|")
    for query, ms, result in results:
        print(f"| {query:<34} | {ms:>9.2f} | {result} |")
    print(f"| {'insert_rows, batches of 1,000':<34} | {'':>9} | {rate:,.0f} rows/s |")
    print(f"| {'delete_older_than (29 days)':<34} | {delete_ms:>9.0f} | {deleted:,} rows |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sqlite", type=Path, default=Path("/tmp/sluicegate-bench.db"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (its request_logs is emptied)")
    args = parser.parse_args()
    if not args.no_sqlite:
        for suffix in ("", "-wal", "-shm"):
            await asyncio.to_thread(Path(f"{args.sqlite}{suffix}").unlink, missing_ok=True)
        url = f"sqlite+aiosqlite:///{args.sqlite}"

        async def fill_lite() -> None:
            await asyncio.to_thread(fill_sqlite, args.sqlite, args.rows)

        await bench("SQLite", url, args.rows, fill_lite, args.repeat)
    if args.postgres:
        await bench(
            "PostgreSQL", args.postgres, args.rows,
            lambda: fill_postgres(args.postgres, args.rows), args.repeat,
        )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
