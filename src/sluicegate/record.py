"""Completion: the one frozen record of a finished request, produced exactly once per request.

The proxy builds it when a request ends, whichever way it ends; the request log, limits,
metrics and live logs subscribe to it through `hooks.bus` and never look at the request itself.
Its fields are the request-log fields of SPEC section 6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try against one upstream target before the response started (or the one that did)."""

    backend: str
    model: str
    status_code: int | None
    error_type: str | None
    latency_ms: float
    # When it started, in ms after the request arrived, and its span id when the request is
    # traced (0 otherwise): telemetry draws the attempt's span from these after the fact.
    started_ms: float = 0.0
    span_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "status_code": self.status_code,
            "error_type": self.error_type,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class TraceIds:
    """W3C trace context of a traced request, decided before its first upstream call.

    `span_id` is the request's own span; `parent_id` the client's span from its `traceparent`
    (0: the request started the trace). Each attempt's span id is in its `Attempt`.
    """

    trace_id: int
    span_id: int
    parent_id: int
    sampled: bool
    tracestate: str | None = None


CHARS_PER_TOKEN = 4


def estimate_tokens(chars: int) -> int:
    """Tokens in `chars` characters of text, for when no tokenizer answers: about 4 characters
    a token (OpenAI's rule of thumb for English). The usage estimate, count_tokens and the
    max_input_tokens guardrail all use it, so they agree."""
    return chars // CHARS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request; `estimated` when the upstream reported none."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """Everything known about a request once it has ended."""

    request_id: str
    created_at: float  # unix seconds when the request arrived
    path: str
    user_id: str | None
    key_id: str | None
    model: str | None  # as the client asked
    resolved_model: str | None  # as sent upstream
    backend: str | None
    stream: bool
    status_code: int
    error_type: str | None
    error_message: str | None
    usage: Usage
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    overhead_ms: float
    attempts: tuple[Attempt, ...] = ()
    client_ip: str | None = None
    user_name: str | None = None  # for the access log; the request log keeps user_id only
    detail_logged: bool = False
    cache: str | None = None  # hit | miss | bypass; None when the response cache is off
    guardrails: tuple[str, ...] = ()  # names of the guardrails that acted (blocked or masked)
    resumed: bool = False  # a broken stream was continued on another target (SPEC 4.9)
    request_body: str | None = None
    response_body: str | None = None
    info: RequestInfo | None = None  # set once the request passed auth and permissions
    trace: TraceIds | None = None  # only with telemetry on
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_hit(self) -> bool:
        return self.cache == "hit"

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def log_fields(self) -> dict[str, Any]:
        """The SPEC 6 log-row fields but `id` and the bodies: one shape for the request log's
        row and the live log's `audit.created` event."""
        usage = self.usage
        return {
            "request_id": self.request_id,
            "created_at": datetime.fromtimestamp(self.created_at, UTC),
            "user_id": self.user_id,
            "key_id": self.key_id,
            "path": self.path,
            "model": self.model,
            "resolved_model": self.resolved_model,
            "backend": self.backend,
            "stream": self.stream,
            "status_code": self.status_code,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "usage_estimated": usage.estimated,
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "attempts": [attempt.as_dict() for attempt in self.attempts],
            "client_ip": self.client_ip,
            "detail_logged": self.detail_logged,
            "cache_hit": self.cache_hit,
            "guardrails": list(self.guardrails) or None,
            "resumed": self.resumed,
        }


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What `before` hooks see of a request that passed auth and permission checks."""

    request_id: str
    path: str
    model: str
    stream: bool
    user_id: str | None
    key_id: str | None
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: str = "month"
    model_rpm: int | None = None  # the user's limits for this model, if any
    model_tpm: int | None = None

    @property
    def limited(self) -> bool:
        return any(
            v is not None
            for v in (self.rpm, self.tpm, self.budget_usd, self.model_rpm, self.model_tpm)
        )
