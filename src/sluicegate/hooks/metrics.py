"""Prometheus metrics, fed by the hook interface: one update per finished request.

With several workers (`serve --workers N`) the CLI points `PROMETHEUS_MULTIPROC_DIR` at a
fresh folder before the workers start; every worker then writes its values to memory-mapped
files there and a scrape of any worker aggregates all of them, so counters are the sum over
workers and `sluicegate_inflight_requests` is the live sum. Without it (one worker, tests) a
private registry per gateway is used.

Target health (`sluicegate_target_state`) is each worker's own circuit-breaker view, labelled
with its `pid`, because breakers are per worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..record import Completion, RequestInfo
from .base import Hook

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

# (backend, model, state, consecutive failures, in flight) for each target this worker knows
TargetStates = Callable[[], Iterable[tuple[str, str, str, int, int]]]


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _TargetCollector(Collector):
    """Values read at scrape time from this worker: target health and the log backlog."""

    def __init__(self, states: TargetStates, log_backlog: Callable[[], int]) -> None:
        self._states = states
        self._log_backlog = log_backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pid = str(os.getpid())
        backlog = GaugeMetricFamily(
            "sluicegate_request_log_backlog",
            "Finished requests of this worker waiting to be written to the request log",
            labels=["pid"],
        )
        backlog.add_metric([pid], float(self._log_backlog()))
        yield backlog
        state = GaugeMetricFamily(
            "sluicegate_target_state",
            "Circuit breaker of each target in this worker: 0 closed, 1 half-open, 2 open",
            labels=["backend", "model", "pid"],
        )
        failures = GaugeMetricFamily(
            "sluicegate_target_consecutive_failures",
            "Consecutive failures of each target in this worker",
            labels=["backend", "model", "pid"],
        )
        for backend, model, name, count, _ in self._states():
            state.add_metric([backend, model, pid], _STATES[name])
            failures.add_metric([backend, model, pid], float(count))
        yield state
        yield failures


def _resume_result(error_type: str | None) -> str:
    if error_type is None:
        return "completed"
    return "client_disconnected" if error_type == "client_disconnected" else "failed"


class MetricsHook(Hook):
    def __init__(
        self, target_states: TargetStates, log_backlog: Callable[[], int] = lambda: 0
    ) -> None:
        # In multiprocess mode values live in files, and the registry passed here only
        # matters for single-process scrapes.
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "sluicegate_requests_total",
            "Inference requests by outcome",
            ["model", "backend", "status_code", "error_type"],
            registry=registry,
        )
        self.duration = Histogram(
            "sluicegate_request_duration_seconds",
            "Whole request time, as the client saw it",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "sluicegate_time_to_first_token_seconds",
            "Request start to the first stream event",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.overhead = Histogram(
            "sluicegate_overhead_seconds",
            "Time spent in the gateway itself per request",
            buckets=_OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "sluicegate_tokens_total",
            "Tokens by kind (prompt, completion)",
            ["kind"],
            registry=registry,
        )
        self.inflight = Gauge(
            "sluicegate_inflight_requests",
            "Inference requests being proxied",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.upstream_errors = Counter(
            "sluicegate_upstream_errors_total",
            "Failed upstream attempts and broken streams",
            ["backend", "error_type"],
            registry=registry,
        )
        cache_requests = Counter(
            "sluicegate_cache_requests_total",
            "Inference requests by response-cache result (only with the cache on)",
            ["result"],
            registry=registry,
        )
        self.cache_results = {r: cache_requests.labels(r) for r in ("hit", "miss", "bypass")}
        self.guardrail_actions = Counter(
            "sluicegate_guardrail_actions_total",
            "Guardrails that acted, by name and action (block, mask)",
            ["guardrail", "action"],
            registry=registry,
        )
        self.resumes = Counter(
            "sluicegate_stream_resumes_total",
            "Streams continued on another target after a break (SPEC 4.9), by how they ended: "
            "completed, failed (the error event) or client_disconnected",
            ["model", "result"],
            registry=registry,
        )
        self.prompt_tokens = self.tokens.labels("prompt")
        self.completion_tokens = self.tokens.labels("completion")
        self._children: dict[tuple[str, str | None, int, str | None], tuple[Any, Any]] = {}
        self._ttft: dict[str, Any] = {}
        self._targets = _TargetCollector(target_states, log_backlog)
        registry.register(self._targets)

    async def before(self, info: RequestInfo) -> None:
        self.inflight.inc()

    def after(self, completion: Completion) -> None:
        if completion.info is not None:
            self.inflight.dec()
        model = completion.model or ""
        key = (model, completion.backend, completion.status_code, completion.error_type)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._children_of(key)
        requests, duration = children
        requests.inc()
        duration.observe(completion.latency_ms / 1000)
        if completion.ttft_ms is not None:
            ttft = self._ttft.get(model)
            if ttft is None:
                ttft = self._ttft[model] = self.ttft.labels(model)
            ttft.observe(completion.ttft_ms / 1000)
        self.overhead.observe(completion.overhead_ms / 1000)
        if completion.cache is not None:
            self.cache_results[completion.cache].inc()
        usage = completion.usage
        if usage.prompt_tokens:
            self.prompt_tokens.inc(usage.prompt_tokens)
        if usage.completion_tokens:
            self.completion_tokens.inc(usage.completion_tokens)
        if completion.resumed:
            self.resumes.labels(model, _resume_result(completion.error_type)).inc()
        for attempt in completion.attempts:
            if attempt.error_type is not None:
                self.upstream_errors.labels(attempt.backend, attempt.error_type).inc()
        if completion.guardrails:
            self._count_guardrails(completion)
        if completion.error_type in ("upstream_disconnected", "timeout") and completion.attempts:
            last = completion.attempts[-1]
            if last.error_type is None:  # broken after the 200
                self.upstream_errors.labels(last.backend, completion.error_type).inc()

    def _children_of(self, key: tuple[str, str | None, int, str | None]) -> tuple[Any, Any]:
        """The labelled series a request of `key` updates. `labels()` validates and locks on
        every call (~3 µs each); the children are cached per label set, which the registry
        keeps anyway, so a request costs one dict lookup instead."""
        model, backend, status_code, error_type = key
        return (
            self.requests.labels(model, backend or "", str(status_code), error_type or ""),
            self.duration.labels(model),
        )

    def _count_guardrails(self, completion: Completion) -> None:
        """The names that acted, in order; when the request was filtered, the last one blocked."""
        names = completion.guardrails
        blocked = completion.error_type == "content_filter"
        for i, name in enumerate(names):
            action = "block" if blocked and i == len(names) - 1 else "mask"
            self.guardrail_actions.labels(name, action).inc()

    async def close(self) -> None:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            mp.mark_process_dead(os.getpid())

    def render(self) -> bytes:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            registry.register(self._targets)
            return generate_latest(registry)
        return generate_latest(self.registry)
