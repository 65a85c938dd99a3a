"""RequestContext: the mutable state of one proxied request, kept apart from I/O.

Handlers, the attempt loop and the stream relay each fill in what they learn; `completion()`
freezes it into the one `record.Completion` published when the request ends.
"""

from __future__ import annotations

import time
from typing import Any

from ..auth.principal import Principal
from ..errors import GatewayError
from ..providers.base import Operation
from ..record import Attempt, Completion, RequestInfo, TraceIds, Usage, estimate_tokens
from ..routing.table import Target
from .detail import StreamCapture


class RequestContext:
    __slots__ = (
        "attempts",
        "cache",
        "capture",
        "carried",
        "chunks_seen",
        "client_ip",
        "client_wants_usage",
        "created_at",
        "ended_by",
        "error",
        "guardrails",
        "info",
        "model",
        "op",
        "overhead",
        "path",
        "principal",
        "reply_chars",
        "request_bytes",
        "request_id",
        "request_text",
        "response_started",
        "response_text",
        "resumed",
        "sending_since",
        "started",
        "status",
        "stream",
        "stream_done",
        "stream_state",
        "target",
        "trace",
        "ttft",
        "upstream_headers",
        "upstream_seconds",
        "usage",
        "usage_partial",
        "usage_summed",
    )

    def __init__(self, request_id: str, path: str, client_ip: str | None) -> None:
        self.request_id = request_id
        self.path = path
        self.client_ip = client_ip
        self.started = time.perf_counter()
        self.created_at = time.time()
        self.principal: Principal | None = None
        self.model: str | None = None
        self.stream = False
        self.client_wants_usage = False
        self.target: Target | None = None
        self.op: Operation | None = None  # what the answering target was asked
        # The endpoint's per-request translation state (e.g. chat chunks → Messages events).
        self.stream_state: Any = None
        self.attempts: list[Attempt] = []
        # Telemetry on: the request's trace ids (each attempt sends its own `traceparent`).
        # Off: the client's trace headers, forwarded unchanged to every attempt (or None).
        self.trace: TraceIds | None = None
        self.upstream_headers: dict[str, str] | None = None
        self.upstream_seconds = 0.0  # time spent waiting on upstreams and backoff, not on us
        self.overhead: float | None = None
        self.ttft: float | None = None
        self.usage: dict[str, object] | None = None
        self.status = 200
        self.error: GatewayError | None = None
        self.response_started = False
        self.stream_done = False
        # Set by `Inflight` when it cancels this request (drain over, client stalled).
        self.ended_by: GatewayError | None = None
        # loop.time() when a send to the client started and has not returned; 0.0 otherwise.
        self.sending_since = 0.0
        # Detail logging only (users with detail_logging): bodies as text, stream capture.
        self.request_text: str | None = None
        self.response_text: str | None = None
        self.capture: StreamCapture | None = None
        self.info: RequestInfo | None = None
        # The response cache's ticket (`cached.CacheTicket`) when the cache is on.
        self.cache: Any = None
        # Names of the guardrails that acted (masked, or blocked: that one last).
        self.guardrails: list[str] | tuple[str, ...] = ()
        # For estimating usage when the upstream reports none.
        self.request_bytes = 0
        self.chunks_seen = 0
        self.reply_chars = 0
        # `usage` was reported at the stream's start (Anthropic's message_start): its input is
        # exact, its output a placeholder until the final count (message_delta) replaces it.
        self.usage_partial = False
        # Resume (SPEC 4.9): a continuation was asked for; usage and cost of the tries the
        # stream broke on, added to the last try's in `completion()`. With `usage_summed`,
        # a continuation's reported `usage` already includes `carried` (the client sees the
        # sum: `splice.summed`), so it is taken off again before pricing the last try.
        self.resumed = False
        self.carried: tuple[Usage, float] | None = None
        self.usage_summed = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def mark_overhead(self) -> float:
        """Time spent in the gateway itself up to now; frozen when the response starts."""
        self.overhead = max(0.0, self.elapsed() - self.upstream_seconds)
        return self.overhead

    def fail(self, error: GatewayError) -> None:
        self.error = error
        if not self.response_started:
            self.status = error.status_code

    def completion(self) -> Completion:
        principal = self.principal
        target = self.target
        usage, cost = self._usage_and_cost()
        if self.carried is not None:
            # A continuation that never opened used nothing: only the tries before it count.
            opened = self.attempts[-1].status_code == 200
            usage, cost = _plus(self.carried, usage, cost) if opened else self.carried
        error = self.error
        response_text = self.response_text
        if self.capture is not None:
            response_text = self.capture.text(self.stream_done)
        cache = self.cache.status if self.cache is not None else None
        return Completion(
            request_id=self.request_id,
            created_at=self.created_at,
            path=self.path,
            user_id=principal.user_id if principal else None,
            key_id=principal.key_id if principal else None,
            model=self.model,
            resolved_model=target.model if target else None,
            backend=target.backend if target else None,
            stream=self.stream,
            status_code=self.status,
            error_type=error.log_type if error else None,
            error_message=error.message if error else None,
            usage=usage,
            cost_usd=cost,
            latency_ms=self.elapsed() * 1000,
            ttft_ms=self.ttft * 1000 if self.ttft is not None else None,
            overhead_ms=(self.overhead if self.overhead is not None else self.mark_overhead())
            * 1000,
            attempts=tuple(self.attempts),
            client_ip=self.client_ip,
            user_name=principal.user_name if principal else None,
            detail_logged=self.request_text is not None,
            cache=cache,
            resumed=self.resumed,
            request_body=self.request_text,
            response_body=response_text,
            info=self.info,
            trace=self.trace,
            guardrails=tuple(self.guardrails),
        )

    def carry_over(self, prefix_bytes: int) -> None:
        """A broken stream goes on elsewhere: keep the broken try's usage and cost (at its
        target's prices) and count the continuation afresh; its prompt is the request plus
        the `prefix_bytes` of text it is asked to continue."""
        usage, cost = self._usage_and_cost()
        self.carried = (usage, cost) if self.carried is None else _plus(self.carried, usage, cost)
        self.usage = None
        self.usage_partial = False
        self.usage_summed = False
        self.chunks_seen = 0
        self.request_bytes += prefix_bytes

    def _usage_and_cost(self) -> tuple[Usage, float]:
        """The current try's usage (reported or estimated) and its cost at its target's prices."""
        if self.usage:
            usage = _usage(self.usage)
            if self.usage_partial:
                # The stream broke before its final count: the output is what was relayed,
                # counted as any broken stream's is (one token per chunk sent), so estimated.
                prompt, completion = usage.prompt_tokens, self.chunks_seen
                usage = Usage(prompt, completion, prompt + completion, estimated=True)
            elif self.usage_summed and self.carried is not None:
                usage = _minus(usage, self.carried[0])
        else:
            usage = self._estimated_usage()
        cost = 0.0
        target = self.target
        if target is not None:
            pricing = target.pricing
            cost = (
                usage.prompt_tokens * pricing.input_per_mtok
                + usage.completion_tokens * pricing.output_per_mtok
            ) / 1_000_000
        return usage, cost

    def _estimated_usage(self) -> Usage:
        """About 4 characters a token for the prompt; one token per streamed chunk (what
        OpenAI-compatible servers send) or 4 characters a token of a whole reply."""
        if self.target is None or not self.response_started:
            return Usage()
        prompt = estimate_tokens(self.request_bytes)
        completion = self.chunks_seen if self.stream else estimate_tokens(self.reply_chars)
        return Usage(prompt, completion, prompt + completion, estimated=True)


def _count(raw: dict[str, object], name: str) -> int:
    value = raw.get(name)
    return value if type(value) is int and value >= 0 else 0


def _usage(raw: dict[str, object]) -> Usage:
    prompt, completion = _count(raw, "prompt_tokens"), _count(raw, "completion_tokens")
    return Usage(prompt, completion, _count(raw, "total_tokens") or prompt + completion)


def _minus(usage: Usage, before: Usage) -> Usage:
    """A continuation's own usage, from the sum over the tries it reported to the client."""
    prompt = max(0, usage.prompt_tokens - before.prompt_tokens)
    completion = max(0, usage.completion_tokens - before.completion_tokens)
    total = max(0, usage.total_tokens - before.total_tokens)
    return Usage(prompt, completion, total or prompt + completion)


def _plus(carried: tuple[Usage, float], usage: Usage, cost: float) -> tuple[Usage, float]:
    before, before_cost = carried
    return (
        Usage(
            before.prompt_tokens + usage.prompt_tokens,
            before.completion_tokens + usage.completion_tokens,
            before.total_tokens + usage.total_tokens,
            before.estimated or usage.estimated,
        ),
        before_cost + cost,
    )
