"""Spans from the Completion and its attempts, exported over OTLP/HTTP by the OpenTelemetry
SDK's batch processor (SPEC 13). Imported only when `telemetry.otlp_endpoint` is set.

Nothing here runs while a request is in flight. The proxy decides the ids before the first
upstream call (`traceparent.py`: the upstream must see its attempt's span id), and when the
request has ended its Completion is drawn as finished spans with the recorded times:

    request span  SERVER  "chat m"            created_at ─────────────── + latency_ms
      attempt     CLIENT  "chat mock-model"     + started_ms ── + latency_ms   (502: ERROR)
      attempt     CLIENT  "chat mock-model"                 + started_ms ──────  (200)

so the SDK's tracer (sampler, context, live span objects) is skipped: the spans are built as
the SDK's own `ReadableSpan`, the type its processors and exporters take, and handed to its
`BatchSpanProcessor`, whose thread encodes and sends them. The queue is bounded: while the
collector is slow or down, new spans are dropped before they reach the SDK's queue (which
would log a warning per span) and counted in one warning a minute; requests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from ..config.schema import TelemetryConfig
from ..record import Attempt, Completion, TraceIds
from .otlp_wire import encode_spans

log = logging.getLogger("sluicegate.telemetry")

# gen_ai.operation.name by path (with or without /v1); count_tokens is none of the
# convention's operations, so it keeps its own name.
_OPERATIONS = {
    "/chat/completions": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
    "/messages": "chat",
    "/messages/count_tokens": "count_tokens",
    "/responses": "chat",
}
# gen_ai.provider.name by backend type: the convention's well-known values.
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
    "demo": "sluicegate.demo",
}
# Room for a few seconds of spans at thousands of requests/s; past it spans are dropped.
_QUEUE_SPANS = 16384
_BATCH_SPANS = 512
# One export (retries included) gives up after this; the batch is then dropped.
_EXPORT_TIMEOUT_SECONDS = 5.0
_DROP_LOG_SECONDS = 60.0

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


class Traces:
    """Turns each traced Completion into spans and queues them for export."""

    def __init__(self, config: TelemetryConfig, backend_type: Callable[[str], str | None]) -> None:
        self._backend_type = backend_type
        created = Resource.create({"service.name": config.service_name})
        self._resource = _Resource(created.attributes, created.schema_url)
        self._scope = InstrumentationScope("sluicegate")
        otlp = _WireExporter(endpoint=config.traces_url, timeout=_EXPORT_TIMEOUT_SECONDS)
        self._exporter = exporter = _Counted(otlp)
        self._queued = 0  # spans handed to the processor (the exporter counts those taken)
        self._dropped = 0
        self._drop_logged_at = 0.0
        self._processor = BatchSpanProcessor(
            exporter,
            max_queue_size=_QUEUE_SPANS,
            schedule_delay_millis=config.export_interval_seconds * 1000,
            max_export_batch_size=_BATCH_SPANS,
        )

    def record(self, completion: Completion) -> None:
        trace = completion.trace
        if trace is None or not trace.sampled:  # the client's trace said not to record
            return
        count = 1 + len(completion.attempts)  # at most: checked before anything is built
        if self._queued - self._exporter.taken + count > _QUEUE_SPANS:
            self._drop(count)
            return
        spans = self.spans(completion, trace)
        self._queued += len(spans)
        on_end = self._processor.on_end
        for span in spans:
            on_end(span)

    def _drop(self, count: int) -> None:
        self._dropped += count
        now = time.monotonic()
        if now - self._drop_logged_at >= _DROP_LOG_SECONDS:
            self._drop_logged_at = now
            log.warning(
                "telemetry: the span queue is full (collector slow or down); %d spans dropped",
                self._dropped,
            )
            self._dropped = 0

    def spans(self, c: Completion, trace: TraceIds) -> list[ReadableSpan]:
        """The request's span and one child per attempt, with the times the request recorded."""
        start = int(c.created_at * 1e9)
        end = start + int(c.latency_ms * 1e6)
        state = TraceState.from_header([trace.tracestate]) if trace.tracestate else None
        context = SpanContext(trace.trace_id, trace.span_id, False, _SAMPLED, state)
        parent = None
        if trace.parent_id:
            parent = SpanContext(trace.trace_id, trace.parent_id, True, _SAMPLED, state)
        operation = _OPERATIONS.get(c.path.removeprefix("/v1"), c.path)
        # Few attributes on purpose: encoding each costs the export thread a few µs per span
        # (docs/telemetry.md#cost); the request log has the rest, found by the request id.
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": c.model or "",
            "http.response.status_code": c.status_code,
            "sluicegate.request_id": c.request_id,
        }
        if c.backend is not None and (provider := self._provider(c.backend)):
            attributes["gen_ai.provider.name"] = provider
        if c.resolved_model is not None:
            attributes["gen_ai.response.model"] = c.resolved_model
        answered = c.attempts[-1] if c.attempts and c.attempts[-1].status_code == 200 else None
        if answered is not None:
            attributes["gen_ai.usage.input_tokens"] = c.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = c.usage.completion_tokens
            if c.usage.estimated:
                attributes["sluicegate.usage_estimated"] = True
        if c.stream:
            attributes["sluicegate.stream"] = True
            if c.ttft_ms is not None:
                attributes["sluicegate.ttft_ms"] = round(c.ttft_ms, 3)
        status = _UNSET
        if c.error_type is not None:
            attributes["error.type"] = c.error_type
            status = Status(StatusCode.ERROR, c.error_message)
        name = f"{operation} {c.model}" if c.model else operation
        spans = [self._span(name, context, parent, attributes, SpanKind.SERVER, status, start, end)]
        for attempt in c.attempts:
            if not attempt.span_id:
                continue
            # The answering attempt of a stream lasts until the stream ended: that is how long
            # the upstream connection served it.
            last = attempt is answered and c.stream
            spans.append(self._attempt(attempt, operation, context, start, end, last, state))
        return spans

    def _attempt(
        self,
        attempt: Attempt,
        operation: str,
        parent: SpanContext,
        start: int,
        end: int,
        to_end: bool,
        state: TraceState | None,
    ) -> ReadableSpan:
        began = start + int(attempt.started_ms * 1e6)
        ended = end if to_end else began + int(attempt.latency_ms * 1e6)
        context = SpanContext(parent.trace_id, attempt.span_id, False, _SAMPLED, state)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": attempt.model,
            "sluicegate.backend": attempt.backend,
        }
        if provider := self._provider(attempt.backend):
            attributes["gen_ai.provider.name"] = provider
        if attempt.status_code is not None:
            attributes["http.response.status_code"] = attempt.status_code
        status = _UNSET
        if attempt.error_type is not None:
            attributes["error.type"] = attempt.error_type
            status = Status(StatusCode.ERROR, attempt.error_type)
        name = f"{operation} {attempt.model}"
        return self._span(name, context, parent, attributes, SpanKind.CLIENT, status, began, ended)

    def _span(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
        kind: SpanKind,
        status: Status,
        start: int,
        end: int,
    ) -> ReadableSpan:
        return ReadableSpan(
            name=name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=attributes,
            kind=kind,
            status=status,
            start_time=start,
            end_time=end,
            instrumentation_scope=self._scope,
        )

    def _provider(self, backend: str) -> str | None:
        kind = self._backend_type(backend)
        return PROVIDER_NAMES.get(kind, kind) if kind else None

    def shutdown(self) -> None:
        """Send what is queued and stop the export thread (blocks: run it in a thread)."""
        self._processor.shutdown()

    def abort(self) -> None:
        """Make an export stuck in its retries (collector down) give up now."""
        self._exporter.shutdown()


class _Resource(Resource):
    """A Resource whose hash is computed once: the OTLP encoder groups spans by resource, and
    `Resource.__hash__` serialises the attributes to JSON on every call (twice per request)."""

    def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


class _WireExporter(OTLPSpanExporter):
    """The official OTLP/HTTP exporter (its HTTP client: retries, backoff, headers, timeouts)
    sending bytes from the hand-written encoder of `otlp_wire` instead of its own (decision 37).

    Should a later SDK release drop the client attribute this relies on, the official
    `export` runs instead: slower, never wrong (`tests/telemetry/test_otlp_wire.py` notices).
    """

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        client = getattr(self, "_client", None)
        if client is None or self._shutdown:
            return super().export(spans)
        try:
            data = encode_spans(spans)
        except (TypeError, ValueError):  # not the gateway's own spans: the official path
            return super().export(spans)
        return SpanExportResult.SUCCESS if client.export(data).success else SpanExportResult.FAILURE


class _Counted(SpanExporter):
    """The OTLP exporter, counting the spans the batch processor's thread has taken."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self.taken = 0  # written by the export thread only
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.taken += len(spans)
        return self._exporter.export(spans)

    def shutdown(self) -> None:
        if not self._closed:  # abort() may have come first
            self._closed = True
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
