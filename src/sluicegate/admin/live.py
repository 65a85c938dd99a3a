"""GET /admin/live/logs: the live log (SPEC 7) as Server-Sent Events, from this process's bus.

The parameters are checked before the 200 is sent, so a bad `types` or cursor is an ordinary
400 error; after that the response is `live.sse.LiveStream`, which never ends on its own. A
browser's `EventSource` resumes by itself: it sends the last `id:` it saw as `Last-Event-ID`,
which counts as the cursor when the query names none.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from ..errors import InvalidRequest
from ..live.events import KINDS
from ..live.sse import LiveStream
from ..types import Receive, Scope, Send
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import errors

router = APIRouter(prefix="/admin/live", tags=["live"], route_class=AdminRoute)

CURSOR_MAX = 64
EVENTS_HELP = """\
`text/event-stream`. The first event is `reset` (data `{"cursor", "reason"}`) unless a
cursor resumes the stream; then `audit.created` (a request-log row without bodies, `id`
null), `usage.recorded` (`request_id, user_id, model, prompt_tokens, completion_tokens,
total_tokens, cost_usd`) and `heartbeat` (data `{"cursor"}`) every `live.heartbeat_seconds`.
Every event has an `id:` usable as `cursor`. A subscriber that falls `live.queue_events`
behind gets `reset` (reason `too_slow`) and the connection is closed."""


class EventStreamResponse(Response):
    """Runs a LiveStream as the response; also documents the media type in OpenAPI."""

    media_type = "text/event-stream"

    def __init__(self, stream: LiveStream) -> None:
        super().__init__()
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream(scope, receive, send)


def parse_types(types: str | None) -> frozenset[str]:
    names = frozenset(name.strip() for name in (types or "").split(",") if name.strip())
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise InvalidRequest(
            f"types: unknown event type '{unknown[0][:40]}' (expected audit, usage)",
            param="types",
        )
    return names or frozenset(KINDS)


@router.get(
    "/logs",
    response_class=EventStreamResponse,
    status_code=200,
    summary="Live request log (Server-Sent Events)",
    response_description=EVENTS_HELP,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **errors(400),
    },
)
async def live_logs(
    runtime: Runtime,
    types: str | None = Query(
        None,
        max_length=100,
        description="Comma-separated `audit`, `usage`; empty or absent: both.",
    ),
    cursor: str | None = Query(
        None,
        max_length=CURSOR_MAX,
        description="An event `id:` to resume after. Gone from the buffer (or issued by "
        "another process or run): the stream starts with `reset`. Never issued: 400.",
    ),
    last_event_id: str | None = Header(
        None,
        max_length=CURSOR_MAX,
        description="Sent by EventSource on reconnect; the cursor when `cursor` is absent.",
    ),
) -> EventStreamResponse:
    """Every finished request of this gateway (with `redis.url`: of every instance) as it
    happens."""
    kinds = parse_types(types)
    bus, settings = runtime.live, runtime.live_config
    given = cursor or last_event_id
    after = bus.resolve(given) if given else None
    reason = "cursor_expired" if given else "start"
    stream = LiveStream(
        bus,
        kinds,
        after,
        heartbeat=settings.heartbeat_seconds,
        limit=settings.queue_events,
        reason=reason,
    )
    return EventStreamResponse(stream)
