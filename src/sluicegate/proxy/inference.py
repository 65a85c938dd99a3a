"""The shared inference handler: auth → body → validate → route → attempts → reply or relay.

This is the one place where every proxied request ends: whichever way it ends (success, any
error, a broken stream, a client that hung up, a bug), `finally` publishes exactly one
Completion.
"""

from __future__ import annotations

import asyncio
import logging

from ..auth.permissions import may_use
from ..auth.principal import Principal
from ..auth.resolver import key_from_headers
from ..errors import (
    ClientDisconnected,
    ClientStalled,
    GatewayError,
    InternalError,
    PermissionDenied,
    StreamBroken,
)
from ..providers.base import Reply
from ..record import RequestInfo
from ..telemetry import traceparent
from ..types import Receive, Send
from . import engine, guard
from .body import parse_object, read_body
from .context import RequestContext
from .detail import StreamCapture, body_text
from .disconnect import HangUp, Watch, watch
from .endpoint import Endpoint
from .headers import RequestHeaders
from .replies import send_error, send_reply
from .resume import resumer_for
from .state import ProxyState
from .streaming import end_frame, relay

log = logging.getLogger("sluicegate.proxy")


async def handle(
    state: ProxyState,
    endpoint: Endpoint,
    ctx: RequestContext,
    headers: RequestHeaders,
    receive: Receive,
    send: Send,
    hangup: HangUp | None = None,
) -> None:
    watcher: Watch | None = None
    inflight = state.inflight
    cache = state.cache
    if cache is not None:
        send = cache.open(ctx, send)
    admitted = False
    if state.tracing:
        ctx.trace = traceparent.start(headers.traceparent, headers.tracestate)
    elif headers.traceparent is not None:
        ctx.upstream_headers = traceparent.forwarded(headers.traceparent, headers.tracestate)
    try:
        try:
            principal = state.keys.authenticate(
                key_from_headers(headers.authorization, headers.x_api_key)
            )
            ctx.principal = principal
            inflight.admit(ctx)
            admitted = True
            body = await read_body(
                receive, state.max_body_bytes, headers.content_length, state.body_timeout_seconds
            )
            ctx.request_bytes = len(body)
            if principal.detail_logging:
                ctx.request_text = body_text(body)
            request = parse_object(body)
            ctx.model, ctx.stream = endpoint.validate(request)
            if ctx.stream and principal.detail_logging:
                ctx.capture = StreamCapture(state.detail_stream_mode, endpoint.compact)
            ctx.client_wants_usage = endpoint.wants_usage(request)
            table = state.table
            route = table.resolve(ctx.model)
            if not may_use(principal, ctx.model):
                raise PermissionDenied(
                    f"This API key may not use the model '{ctx.model}'.", param="model"
                )
            ctx.info = info = request_info(ctx, principal)
            if state.bus.has_before:
                await state.bus.before(info)
            plan = state.guards.plan(route.guardrails) if state.guards is not None else None
            if plan is not None:
                await guard.check_input(ctx, plan, request)
            if cache is not None and await cache.answer(ctx, request, headers.cache_control, send):
                return
            watcher = watch(hangup, receive)
            result = await engine.run(ctx, table, route, request, endpoint.prepare, state.health)
            if isinstance(result, Reply):
                payload = endpoint.finish_reply(ctx, result)
                if plan is not None:
                    payload = await guard.check_reply(ctx, plan, payload)
                if principal.detail_logging:
                    ctx.response_text = body_text(payload)
                watcher.stop()
                await send_reply(ctx, send, payload)
            else:
                if plan is not None:
                    result = await guard.check_stream(ctx, plan, result)
                resumer = resumer_for(ctx, table, route, request, endpoint.prepare, state.health)
                if resumer is not None and plan is not None:
                    resumer.rewrap = guard.continuing(ctx, result)
                keepalive = state.keepalive_seconds
                await relay(ctx, result, send, endpoint, keepalive, watcher.stop, resumer)
        except GatewayError as exc:
            ctx.fail(exc)
            if not ctx.response_started:
                if watcher is not None:
                    watcher.stop()
                await send_error(ctx, send, exc, endpoint.error_body)
        except asyncio.CancelledError:
            if watcher is not None and watcher.absorb():
                ctx.fail(ClientDisconnected("The client disconnected."))
            elif ctx.ended_by is not None:
                # Ours (Inflight): the drain is over, or the client stopped reading.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                if watcher is not None:
                    watcher.stop()
                await _end_early(ctx, send, endpoint, ctx.ended_by)
            else:
                raise
        except Exception:
            log.exception("request %s failed", ctx.request_id)
            error = InternalError("Internal server error.")
            ctx.fail(error)
            if not ctx.response_started:
                await send_error(ctx, send, error, endpoint.error_body)
    finally:
        if admitted:
            inflight.leave()
        if watcher is not None:
            watcher.stop()
        _settle_health(state, ctx)
        if cache is not None:
            cache.settle(ctx)
        state.bus.publish(ctx.completion())


async def _end_early(
    ctx: RequestContext, send: Send, endpoint: Endpoint, error: GatewayError
) -> None:
    """Finish a request the gateway itself stopped: a JSON error if nothing was sent yet, the
    SPEC 4.4 error event if a stream was under way; nothing to a client that stopped reading."""
    ctx.fail(error)
    if isinstance(error, ClientStalled):
        return
    if not ctx.response_started:
        await send_error(ctx, send, error, endpoint.error_body)
    elif ctx.stream and not ctx.stream_done:
        body = end_frame(ctx, endpoint, error)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def request_info(ctx: RequestContext, principal: Principal) -> RequestInfo:
    model_rpm, model_tpm = principal.model_limits.get(ctx.model or "", (None, None))
    return RequestInfo(
        request_id=ctx.request_id,
        path=ctx.path,
        model=ctx.model or "",
        stream=ctx.stream,
        user_id=principal.user_id,
        key_id=principal.key_id,
        rpm=principal.rpm,
        tpm=principal.tpm,
        budget_usd=principal.budget_usd,
        budget_period=principal.budget_period,
        model_rpm=model_rpm,
        model_tpm=model_tpm,
    )


def _settle_health(state: ProxyState, ctx: RequestContext) -> None:
    """Release the answering target; a stream the upstream broke counts against it."""
    target = ctx.target
    if target is None or not ctx.attempts or ctx.attempts[-1].status_code != 200:
        return
    state.health.released(target)
    if isinstance(ctx.error, StreamBroken):
        state.health.failed(target)
