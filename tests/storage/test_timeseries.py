"""Request-log timeseries on SQLite and PostgreSQL, every field of every bucket compared with
the same numbers computed here in Python from the rows inserted."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluicegate.record import Completion, Usage
from sluicegate.storage import request_log, timeseries
from sluicegate.storage.db import Database
from support import DAY, HOUR, T0, completion

pytestmark = pytest.mark.anyio

MINUTE = timedelta(minutes=1)
STATUSES = [
    (200, None), (200, None), (200, None), (201, None), (200, "upstream_disconnected"),
    (400, "invalid_request"), (429, "rate_limited"), (499, "client_disconnected"),
    (500, "internal_error"), (502, "upstream_error"), (504, "timeout"), (304, None),
]  # fmt: skip


def made_completions() -> list[Completion]:
    """Hours 0, 1 and 3 after T0 have rows (hour 1 no streams: no TTFT), hour 2 none; one
    row exactly at each of T0 + 1h and T0 + 3h, one just before T0, one the next day."""
    rnd = random.Random(20301)
    at = [T0 + rnd.uniform(0, 1) * HOUR for _ in range(40)]
    at += [T0 + HOUR + rnd.uniform(0, 1) * HOUR for _ in range(25)]
    at += [T0 + 3 * HOUR + rnd.uniform(0, 1) * HOUR for _ in range(35)]
    at += [T0 + HOUR, T0 + 3 * HOUR, T0 - timedelta(microseconds=1), T0 + DAY]
    made = []
    for index, moment in enumerate(at):
        status, error_type = rnd.choice(STATUSES)
        stream = not (T0 + HOUR <= moment < T0 + 2 * HOUR) and rnd.random() < 0.6
        latency = rnd.choice([round(rnd.uniform(5, 900), 1), 250.0])  # ties at 250.0
        made.append(
            completion(
                index,
                moment,
                model=rnd.choice(["m1", "m1", "m2", None]),
                user_id=rnd.choice(["alice", "bob", None]),
                backend=rnd.choice(["b1", "b2", None]),
                status_code=status,
                error_type=error_type,
                stream=stream,
                latency_ms=latency,
                ttft_ms=round(rnd.uniform(1, latency), 3) if stream else None,
                usage=Usage(rnd.randrange(0, 500), rnd.randrange(0, 300), 0),
                cost_usd=rnd.randrange(0, 10_000) / 7_000,
            )
        )
    return made


COMPLETIONS = made_completions()


def nearest_rank(values: list[float], p: int) -> float | None:
    """The value at 1-based rank ceil(p * n / 100) of the sorted values; None for none."""
    if not values:
        return None
    return sorted(values)[math.ceil(p * len(values) / 100) - 1]


def expected(
    bucket: timeseries.Bucket, since: datetime, until: datetime, **filters: Any
) -> list[dict[str, Any]]:
    width = timeseries.WIDTH[bucket]
    start = datetime(1970, 1, 1, tzinfo=UTC)
    start += (since - start) // width * width
    rows = [
        c
        for c in COMPLETIONS
        if since.timestamp() <= c.created_at < until.timestamp()
        and all(getattr(c, name) == value for name, value in filters.items())
    ]
    buckets = []
    while start < until:
        inside = [
            c for c in rows if start.timestamp() <= c.created_at < (start + width).timestamp()
        ]
        latencies = [c.latency_ms for c in inside]
        ttfts = [c.ttft_ms for c in inside if c.ttft_ms is not None]
        buckets.append(
            {
                "start": start,
                "requests": len(inside),
                "errors": sum(c.error_type is not None for c in inside),
                "status_2xx": sum(200 <= c.status_code < 300 for c in inside),
                "status_4xx": sum(400 <= c.status_code < 500 for c in inside),
                "status_5xx": sum(500 <= c.status_code < 600 for c in inside),
                "prompt_tokens": sum(c.usage.prompt_tokens for c in inside),
                "completion_tokens": sum(c.usage.completion_tokens for c in inside),
                "cost_usd": pytest.approx(sum(c.cost_usd for c in inside), rel=1e-12, abs=1e-12),
                "latency_ms_p50": nearest_rank(latencies, 50),
                "latency_ms_p95": nearest_rank(latencies, 95),
                "ttft_ms_p50": nearest_rank(ttfts, 50),
                "ttft_ms_p95": nearest_rank(ttfts, 95),
            }
        )
        start += width
    return buckets


@pytest.fixture
async def logged(db: Database) -> Database:
    rows = [request_log.row_from_completion(c) for c in COMPLETIONS]
    await request_log.insert_rows(db, rows[:50])
    await request_log.insert_rows(db, rows[50:])
    return db


@pytest.mark.parametrize(
    ("bucket", "since", "until"),
    [
        ("hour", T0, T0 + 4 * HOUR),
        ("hour", T0 - HOUR, T0 + DAY + HOUR),
        ("minute", T0, T0 + 4 * HOUR),
        ("day", T0 - DAY, T0 + 2 * DAY),
        # Unaligned: the first and last buckets hold only the rows inside the range.
        ("hour", T0 + 20 * MINUTE, T0 + 3 * HOUR + 10 * MINUTE),
    ],
)
async def test_every_bucket_matches_python(
    logged: Database, bucket: timeseries.Bucket, since: datetime, until: datetime
) -> None:
    got = await timeseries.timeseries(logged, bucket, since, until)
    want = expected(bucket, since, until)
    assert len(got) == len(want) == timeseries.bucket_count(since, until, bucket)
    for got_bucket, want_bucket in zip(got, want, strict=True):
        assert got_bucket == want_bucket
    assert sum(b["requests"] for b in got) > 0


async def test_the_fixture_covers_the_interesting_cases(logged: Database) -> None:
    [first, second, empty, fourth] = await timeseries.timeseries(logged, "hour", T0, T0 + 4 * HOUR)
    assert first["ttft_ms_p50"] is not None and second["requests"] > 0
    assert second["ttft_ms_p50"] is None and second["ttft_ms_p95"] is None
    assert empty == timeseries.empty_bucket(T0 + 2 * HOUR)
    assert all(b["errors"] > 0 and b["status_4xx"] > 0 for b in (first, second, fourth))


@pytest.mark.parametrize(
    "filters",
    [
        {"model": "m2"},
        {"user_id": "bob"},
        {"backend": "b2"},
        {"model": "m1", "user_id": "alice", "backend": "b1"},
        {"model": "no-such-model"},
    ],
)
async def test_filters(logged: Database, filters: dict[str, Any]) -> None:
    got = await timeseries.timeseries(logged, "hour", T0, T0 + 4 * HOUR, **filters)
    assert got == expected("hour", T0, T0 + 4 * HOUR, **filters)


async def test_model_filter_is_the_requested_model(logged: Database) -> None:
    # Every row was resolved to gpt-4o; the filter compares the model the client asked for.
    got = await timeseries.timeseries(logged, "day", T0, T0 + HOUR, model="gpt-4o")
    assert got == [timeseries.empty_bucket(T0 - 10 * HOUR)]


async def test_a_row_at_a_bucket_start_is_in_that_bucket(logged: Database) -> None:
    at_boundary = sum(1 for c in COMPLETIONS if c.created_at == (T0 + HOUR).timestamp())
    assert at_boundary == 1
    [just_it] = await timeseries.timeseries(logged, "minute", T0 + HOUR, T0 + HOUR + MINUTE)
    before = await timeseries.timeseries(logged, "minute", T0 + HOUR - MINUTE, T0 + HOUR)
    in_minute = [
        c
        for c in COMPLETIONS
        if (T0 + HOUR).timestamp() <= c.created_at < (T0 + HOUR + MINUTE).timestamp()
    ]
    assert just_it["start"] == T0 + HOUR and just_it["requests"] == len(in_minute) >= 1
    assert before == expected("minute", T0 + HOUR - MINUTE, T0 + HOUR)


async def test_empty_ranges(logged: Database) -> None:
    assert await timeseries.timeseries(logged, "hour", T0, T0) == []
    quiet = await timeseries.timeseries(logged, "hour", T0 + 2 * DAY, T0 + 2 * DAY + 3 * HOUR)
    assert quiet == [timeseries.empty_bucket(T0 + 2 * DAY + i * HOUR) for i in range(3)]


async def test_nearest_rank_percentiles(db: Database) -> None:
    """n = 20 values 1..20: p50 is the 10th, p95 the 19th; n = 1: both the value."""
    rows = [
        request_log.row_from_completion(
            completion(i, T0 + i * timedelta(seconds=1), latency_ms=float(21 - i),
                       stream=True, ttft_ms=float(i) / 4)
        )
        for i in range(1, 21)
    ]  # fmt: skip
    rows.append(
        request_log.row_from_completion(completion(99, T0 + HOUR, latency_ms=7.5, ttft_ms=2.0))
    )
    await request_log.insert_rows(db, rows)
    first, second = await timeseries.timeseries(db, "hour", T0, T0 + 2 * HOUR)
    assert (first["latency_ms_p50"], first["latency_ms_p95"]) == (10.0, 19.0)
    assert (first["ttft_ms_p50"], first["ttft_ms_p95"]) == (2.5, 4.75)
    assert (second["latency_ms_p50"], second["latency_ms_p95"]) == (7.5, 7.5)
    assert (second["ttft_ms_p50"], second["ttft_ms_p95"]) == (2.0, 2.0)


def test_bucket_arithmetic_at_the_ends_of_time() -> None:
    first = datetime(1, 1, 1, tzinfo=UTC)
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert timeseries.floor(last, "day") == datetime(9999, 12, 31, tzinfo=UTC)
    assert timeseries.bucket_count(last - DAY, last, "day") == 2
    assert timeseries.bucket_starts(first, first + 2 * HOUR, "hour")[-1] == first + HOUR
    assert timeseries.bucket_count(T0, T0 - HOUR, "minute") == 0
