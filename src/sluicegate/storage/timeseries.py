"""Request-log timeseries: per-bucket counts, tokens, cost and latency/TTFT percentiles in SQL.

Buckets are UTC minutes, hours or days, keyed by their start. One GROUP BY query reads the
filtered rows of `since <= created_at < until` (an index range scan on `(created_at, id)`, or
on `(model|user_id|backend, created_at, id)` with that filter) and answers only buckets that
have rows; `bucket_starts` then lays them on the full, contiguous range, empty buckets zero
with null percentiles, so a chart gets one point per bucket.

Percentiles are nearest-rank: p of n sorted non-null values is the value at 1-based rank
ceil(p * n / 100) (no interpolation, always a logged value). That is PostgreSQL's
`percentile_disc`, used there as is; SQLite has no percentile function, so there each row is
ranked in its bucket with window functions and the row at that rank is picked:

    rows of the range ──► bucket, ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY latency_ms),
                          COUNT(*) OVER (PARTITION BY bucket)        (and the same for ttft_ms,
                                                                      non-null rows only)
                      ──► GROUP BY bucket: MAX(CASE WHEN rank = (p * n + 99) / 100 THEN value)

The integer rank equals `ceil(p / 100 * n)` in float8, as PostgreSQL computes it, for every n
up to 2,000,000 at p = 50 and 95 (checked), so both databases pick the same row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, select

from sluicegate.storage.db import Database
from sluicegate.storage.rows import Row
from sluicegate.storage.tables import request_logs

Bucket = Literal["minute", "hour", "day"]

WIDTH: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
PERCENTILES = (50, 95)
SERIES = ("latency_ms", "ttft_ms")
COUNTS = (
    "requests",
    "errors",
    "status_2xx",
    "status_4xx",
    "status_5xx",
    "prompt_tokens",
    "completion_tokens",
)

_c = request_logs.c
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# SQLite keeps created_at as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text (tables.UTCDateTime): a
# bucket is a prefix, completed to a full time when read back.
_SQLITE_PREFIX = {"minute": (16, ":00"), "hour": (13, ":00:00"), "day": (10, " 00:00:00")}


def floor(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC bucket holding `moment`."""
    width = WIDTH[bucket] // _US
    return _EPOCH + (((moment - _EPOCH) // _US) // width * width) * _US


def bucket_count(since: datetime, until: datetime, bucket: Bucket) -> int:
    """How many buckets `since <= t < until` touches (0 for an empty range). Plain integer
    arithmetic: a range near year 1 or 9999 must not overflow a datetime."""
    width = WIDTH[bucket] // _US
    start, end = (since - _EPOCH) // _US, (until - _EPOCH) // _US
    if end <= start:
        return 0
    first = start // width
    last = (end - 1) // width
    return last - first + 1


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """The start of every bucket `since <= t < until` touches, oldest first."""
    first = floor(since, bucket)
    return [first + i * WIDTH[bucket] for i in range(bucket_count(since, until, bucket))]


def empty_bucket(start: datetime) -> Row:
    """A bucket without rows: zero counts, null percentiles."""
    return {
        "start": start,
        **dict.fromkeys(COUNTS, 0),
        "cost_usd": 0.0,
        **{f"{name}_p{p}": None for name in SERIES for p in PERCENTILES},
    }


async def timeseries(
    db: Database,
    bucket: Bucket,
    since: datetime,
    until: datetime,
    *,
    model: str | None = None,
    user_id: str | None = None,
    backend: str | None = None,
) -> list[Row]:
    """One row per bucket of `since <= created_at < until`, oldest first, with no gaps.

    `model` is the model as the client asked for it (as in `request_log.query_rows`).
    `errors` counts rows with an error_type, like `request_log.usage`.
    """
    starts = bucket_starts(since, until, bucket)
    if not starts:
        return []
    where = [_c.created_at >= since, _c.created_at < until]
    for column, value in (("model", model), ("user_id", user_id), ("backend", backend)):
        if value is not None:
            where.append(_c[column] == value)
    statement = _sqlite_query(bucket, where) if db.is_sqlite else _postgres_query(bucket, where)
    async with db.read() as conn:
        found = {
            start: {"start": start, **_bucket(row)}
            for row in await conn.execute(statement)
            for start in [_start(row.bucket, bucket)]
        }
    return [found.get(start) or empty_bucket(start) for start in starts]


def _totals(source: Any) -> list[ColumnElement[Any]]:
    """The plain aggregates, over `request_logs` itself or a subquery of its columns."""

    def status_class(hundreds: int) -> ColumnElement[Any]:
        low = hundreds * 100
        return func.sum(case((source.status_code.between(low, low + 99), 1), else_=0))

    return [
        func.count().label("requests"),
        func.sum(case((source.error_type.is_not(None), 1), else_=0)).label("errors"),
        status_class(2).label("status_2xx"),
        status_class(4).label("status_4xx"),
        status_class(5).label("status_5xx"),
        func.sum(source.prompt_tokens).label("prompt_tokens"),
        func.sum(source.completion_tokens).label("completion_tokens"),
        func.sum(source.cost_usd).label("cost_usd"),
    ]


def _postgres_query(bucket: Bucket, where: list[ColumnElement[bool]]) -> Select[Any]:
    # The unit as SQL text, not a bind parameter: the GROUP BY must repeat the expression.
    key = func.date_trunc(literal_column(f"'{bucket}'"), func.timezone("UTC", _c.created_at))
    percentiles = [
        func.percentile_disc(p / 100).within_group(_c[name]).label(f"{name}_p{p}")
        for name in SERIES
        for p in PERCENTILES
    ]
    return select(key.label("bucket"), *_totals(_c), *percentiles).where(*where).group_by(key)


def _sqlite_query(bucket: Bucket, where: list[ColumnElement[bool]]) -> Select[Any]:
    key = func.substr(_c.created_at, 1, _SQLITE_PREFIX[bucket][0])
    ranks = []
    for name in SERIES:
        # Nulls get a partition of their own, so a bucket's non-null values rank 1..n.
        partition = [key, _c[name].is_(None)]
        ranks += [
            func.row_number().over(partition_by=partition, order_by=_c[name]).label(f"{name}_rank"),
            func.count(_c[name]).over(partition_by=key).label(f"{name}_n"),
        ]
    columns = ("status_code", "error_type", "prompt_tokens", "completion_tokens", "cost_usd")
    ranked = (
        select(key.label("bucket"), *(_c[name] for name in columns + SERIES), *ranks)
        .where(*where)
        .subquery()
    )
    r = ranked.c

    def nearest_rank(name: str, p: int) -> ColumnElement[Any]:
        # (p * n + 99) // 100 is ceil(p * n / 100) in integers.
        rank = (r[f"{name}_n"] * p + 99) // 100
        picked = case((and_(r[name].is_not(None), r[f"{name}_rank"] == rank), r[name]))
        return func.max(picked).label(f"{name}_p{p}")

    percentiles = [nearest_rank(name, p) for name in SERIES for p in PERCENTILES]
    return select(r.bucket, *_totals(r), *percentiles).group_by(r.bucket)


def _start(key: Any, bucket: Bucket) -> datetime:
    if isinstance(key, datetime):  # PostgreSQL: a timestamp without time zone, in UTC
        return key.replace(tzinfo=UTC)
    return datetime.fromisoformat(key + _SQLITE_PREFIX[bucket][1]).replace(tzinfo=UTC)


def _bucket(row: Any) -> Row:
    values = row._mapping
    percentiles = {f"{name}_p{p}" for name in SERIES for p in PERCENTILES}
    return {
        **{name: int(values[name] or 0) for name in COUNTS},
        "cost_usd": float(values["cost_usd"] or 0.0),
        **{name: None if values[name] is None else float(values[name]) for name in percentiles},
    }
