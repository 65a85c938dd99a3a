"""/admin/analytics: the request log, filtered and paged newest first, and usage totals.

Times in `since`/`until` are ISO-8601 (a date, or a date-time; no offset means UTC) or unix
seconds; ranges are half-open, `since <= created_at < until`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..errors import InvalidRequest
from ..storage import request_log
from ..storage.db import Database
from ..storage.tables import request_logs
from .crud import Row, found
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import RequestDetail, RequestPage, UsageReport

router = APIRouter(prefix="/admin/analytics", tags=["analytics"], route_class=AdminRoute)

TIME_HELP = "ISO-8601 (UTC unless an offset is given) or unix seconds."


def parse_time(value: str | None, param: str) -> datetime | None:
    """`value` as an aware UTC datetime; 400 naming `param` when it is neither form."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"{param}: expected ISO-8601 or unix seconds, got '{value[:40]}'", param=param
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
    offset: int = Query(0, ge=0),
    user_id: str | None = None,
    model: str | None = Query(None, description="The model as the client asked for it."),
    backend: str | None = None,
    status_code: int | None = None,
    error_type: str | None = None,
    stream: bool | None = None,
    since: str | None = Query(None, description=TIME_HELP),
    until: str | None = Query(None, description=TIME_HELP),
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


@router.get("/requests/{row_id}", response_model=RequestDetail, summary="One logged request")
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
    since: str | None = Query(None, description=TIME_HELP),
    until: str | None = Query(None, description=TIME_HELP),
) -> dict[str, Any]:
    """Requests, errors, tokens and cost per group, ordered by group (no group last)."""
    start, end = time_range(since, until)
    rows = await request_log.usage(runtime.db, group_by, start, end)
    return {"group_by": group_by, "rows": rows}
