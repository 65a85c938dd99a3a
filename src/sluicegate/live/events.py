"""The live-log wire format: a Completion as `audit.created` / `usage.recorded` data, SSE frames.

`audit.created` carries a request-log row as `GET /admin/analytics/requests` lists it (SPEC 6,
no bodies), built from the Completion rather than read back from the database, so events flow
while the database is down. Its `id` is null: the row id is assigned by the database when the
log writer inserts the row, later and maybe much later. Clients find the row by `request_id`
(`GET /admin/analytics/requests/{request_id}` accepts one).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..record import Completion

AUDIT = "audit"
USAGE = "usage"
KINDS = (AUDIT, USAGE)  # what `types=` may name
EVENT_NAMES = {AUDIT: b"audit.created", USAGE: b"usage.recorded"}

_DUMP_OPTIONS = orjson.OPT_UTC_Z  # datetimes as the admin API writes them: ...Z


def audit_data(completion: Completion) -> dict[str, Any]:
    """The log row of `completion` without bodies, shaped like an analytics `RequestRow`."""
    row = completion.log_fields()
    row["cost_usd"] = float(row["cost_usd"])
    row["latency_ms"] = float(row["latency_ms"])
    return {"id": None, **row}


def usage_data(completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    return {
        "request_id": completion.request_id,
        "user_id": completion.user_id,
        "model": completion.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost_usd": float(completion.cost_usd),
    }


def data_of(kind: str, completion: Completion) -> bytes:
    """The JSON `data:` of one event of `completion` (one line: orjson never writes newlines)."""
    payload = audit_data(completion) if kind == AUDIT else usage_data(completion)
    return orjson.dumps(payload, option=_DUMP_OPTIONS)


def frame(event: bytes, cursor: str, data: bytes) -> bytes:
    """One SSE event: `id`, `event` and a single-line `data`."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (cursor.encode(), event, data)


def control_frame(event: bytes, cursor: str, **fields: Any) -> bytes:
    """`reset` or `heartbeat`: data is `{"cursor": ..., **fields}`."""
    return frame(event, cursor, orjson.dumps({"cursor": cursor, **fields}))
