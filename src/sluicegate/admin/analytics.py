"""/admin/analytics: the request log, filtered and paged newest first, usage totals, and the
per-bucket timeseries the dashboard charts.

Times in `since`/`until` are an RFC 3339 date-time (the offset may be left out: UTC), a date
(its midnight, UTC) or unix seconds; an empty value is no bound. Ranges are half-open,
`since <= created_at < until`. The OpenAPI schema states exactly these forms (`TIME_SCHEMA`)
and `parse_time` accepts nothing else, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import WithJsonSchema
from sqlalchemy import select

from ..errors import InvalidRequest
from ..storage import request_log, timeseries
from ..storage.db import Database
from ..storage.tables import request_logs
from .crud import Row, found
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import RequestDetail, RequestPage, Timeseries, UsageReport, errors

router = APIRouter(prefix="/admin/analytics", tags=["analytics"], route_class=AdminRoute)

TIME_HELP = "RFC 3339 date-time (UTC unless an offset is given), a date, or unix seconds."

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_LOCAL_DATE_TIME = _DATE + r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
_UNIX_SECONDS = r"[0-9]{1,11}(\.[0-9]{1,6})?"
_TIME = re.compile(rf"{_LOCAL_DATE_TIME}([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})?|{_DATE}|{_UNIX_SECONDS}")
TIME_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": f"^{_LOCAL_DATE_TIME}$", "description": "no offset: UTC"},
        {"type": "string", "format": "date"},
        {"type": "string", "pattern": f"^{_UNIX_SECONDS}$", "description": "unix seconds"},
        {"type": "string", "maxLength": 0, "description": "no bound"},
    ]
}
TimeParam = Annotated[str | None, WithJsonSchema(TIME_SCHEMA), Query(description=TIME_HELP)]
# Filters compare with stored names and ids; nothing longer can match.
FILTER_MAX = 200
# A chart of more points than a screen has pixels says nothing more; a day of minutes fits.
MAX_BUCKETS = 1500
# Buckets shown when `since` is left out: an hour of minutes, a day of hours, 30 days.
DEFAULT_BUCKETS = {"minute": 60, "hour": 24, "day": 30}
# SQLite and PostgreSQL take a 64-bit OFFSET; a larger one would fail in the driver (a 500).
OFFSET_MAX = 2**63 - 1


def parse_time(value: str | None, param: str) -> datetime | None:
    """`value` as an aware UTC datetime; 400 naming `param` unless it has a `TIME_SCHEMA` form
    that is a real time (no 2030-02-30, no year past 9999 once moved to UTC)."""
    if value is None or value == "":
        return None
    try:
        if _TIME.fullmatch(value) is None:
            raise ValueError(value)
        if re.fullmatch(_UNIX_SECONDS, value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value.upper())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(
            f"{param}: expected an RFC 3339 date-time, a date or unix seconds, got '{value[:40]}'",
            param=param,
        ) from None


def time_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None and end is not None and end < start:
        raise InvalidRequest("until: must not be before since", param="until")
    return start, end


async def row_by_request_id(db: Database, request_id: str) -> Row | None:
    """The newest row with this client-visible `x-request-id` (clients may reuse one)."""
    statement = (
        select(request_logs)
        .where(request_logs.c.request_id == request_id)
        .order_by(request_logs.c.id.desc())
        .limit(1)
    )
    async with db.read() as conn:
        row = (await conn.execute(statement)).first()
    return dict(row._mapping) if row is not None else None


@router.get("/requests", response_model=RequestPage, summary="Query the request log")
async def list_requests(
    runtime: Runtime,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=OFFSET_MAX),
    user_id: str | None = Query(None, max_length=FILTER_MAX),
    model: str | None = Query(
        None, max_length=FILTER_MAX, description="The model as the client asked for it."
    ),
    backend: str | None = Query(None, max_length=FILTER_MAX),
    status_code: int | None = Query(None, ge=100, le=599),
    error_type: str | None = Query(None, max_length=FILTER_MAX),
    stream: bool | None = None,
    since: TimeParam = None,
    until: TimeParam = None,
    detail_logged: bool | None = Query(None, alias="detailLogged"),
) -> dict[str, Any]:
    """Rows without bodies, newest first, and `total`, the count of all matching rows."""
    start, end = time_range(since, until)
    rows, total = await request_log.query_rows(
        runtime.db,
        limit=limit,
        offset=offset,
        user_id=user_id,
        model=model,
        backend=backend,
        status_code=status_code,
        error_type=error_type,
        stream=stream,
        since=start,
        until=end,
        detail_logged=detail_logged,
    )
    return {"rows": rows, "total": total}


@router.get(
    "/requests/{row_id}",
    response_model=RequestDetail,
    summary="One logged request",
    responses=errors(404),
)
async def get_request(row_id: str, runtime: Runtime) -> dict[str, Any]:
    """By row id, or by the request's `x-request-id` (its newest row) when that is no row id.
    `request_body`/`response_body` are text, null unless the user has detail logging."""
    is_row_id = row_id.isdigit() and len(row_id) <= 18  # fits a BIGINT
    row = await request_log.get_row(runtime.db, int(row_id)) if is_row_id else None
    if row is None:
        row = await row_by_request_id(runtime.db, row_id)
    return found(row, "request", row_id)


@router.get("/usage", response_model=UsageReport, summary="Usage totals per group")
async def usage(
    runtime: Runtime,
    group_by: Literal["user", "model", "backend", "day"] = Query(
        description="user (id), model (as asked for), backend, or UTC day."
    ),
    since: TimeParam = None,
    until: TimeParam = None,
) -> dict[str, Any]:
    """Requests, errors, tokens and cost per group, ordered by group (no group last)."""
    start, end = time_range(since, until)
    rows = await request_log.usage(runtime.db, group_by, start, end)
    return {"group_by": group_by, "rows": rows}


def timeseries_range(
    bucket: timeseries.Bucket, since: str | None, until: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The parsed range, defaults filled in: `until` the end of the current bucket (never
    before `since`), `since` DEFAULT_BUCKETS buckets before `until`. 400 past MAX_BUCKETS."""
    start, end = time_range(since, until)
    width = timeseries.WIDTH[bucket]
    if end is None:
        end = timeseries.floor(now, bucket) + width
        end = max(end, start) if start is not None else end
    if start is None:
        try:
            start = end - DEFAULT_BUCKETS[bucket] * width
        except OverflowError:  # `until` in the first days of year 1
            start = datetime.min.replace(tzinfo=UTC)
    count = timeseries.bucket_count(start, end, bucket)
    if count > MAX_BUCKETS:
        raise InvalidRequest(
            f"bucket: since..until spans {count} {bucket} buckets, at most {MAX_BUCKETS} are "
            "answered; narrow the range or take a larger bucket",
            param="bucket",
        )
    return start, end


@router.get("/timeseries", response_model=Timeseries, summary="Request-log totals over time")
async def timeseries_report(
    runtime: Runtime,
    bucket: Annotated[timeseries.Bucket, Query(description="UTC minute, hour or day.")] = "hour",
    since: TimeParam = None,
    until: TimeParam = None,
    model: str | None = Query(
        None, max_length=FILTER_MAX, description="The model as the client asked for it."
    ),
    user_id: str | None = Query(None, max_length=FILTER_MAX),
    backend: str | None = Query(None, max_length=FILTER_MAX),
) -> dict[str, Any]:
    """Per bucket, oldest first and without gaps: requests, errors, status classes, tokens,
    cost, and p50/p95 latency and TTFT (nearest-rank). Left out, `until` is the end of the
    current bucket and `since` 60 minutes, 24 hours or 30 days before it; at most
    1500 buckets."""
    start, end = timeseries_range(bucket, since, until, datetime.now(UTC))
    buckets = await timeseries.timeseries(
        runtime.db, bucket, start, end, model=model, user_id=user_id, backend=backend
    )
    return {"buckets": buckets}
