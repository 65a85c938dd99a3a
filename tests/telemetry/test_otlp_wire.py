"""The hand-written OTLP encoder (decision 37) against the official one: the same bytes for
every span the gateway makes (requests, streams, retries, fallbacks, errors, client trace
state) and for arbitrary attribute values; and the exporter really uses it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as official_encode,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from sluicegate.config.schema import TelemetryConfig
from sluicegate.record import Attempt, Completion, TraceIds, Usage
from sluicegate.telemetry import otel
from sluicegate.telemetry.otlp_wire import encode_spans


def completion(**changes: Any) -> Completion:
    fields: dict[str, Any] = {
        "request_id": "req-1",
        "created_at": time.time(),
        "path": "/v1/chat/completions",
        "user_id": "u1",
        "key_id": "k1",
        "model": "m",
        "resolved_model": "mock-model",
        "backend": "mock",
        "stream": False,
        "status_code": 200,
        "error_type": None,
        "error_message": None,
        "usage": Usage(12, 5, 17),
        "cost_usd": 0.0,
        "latency_ms": 3.5,
        "ttft_ms": None,
        "overhead_ms": 0.3,
        "attempts": (Attempt("mock", "mock-model", 200, None, 3.0, 0.2, 0x1234),),
        "trace": TraceIds(0xABC, 0xDEF, 0, True),
    }
    fields.update(changes)
    return Completion(**fields)


@pytest.fixture(scope="module")
def traces() -> Iterator[otel.Traces]:
    made = otel.Traces(
        TelemetryConfig(otlp_endpoint="http://127.0.0.1:9/"), lambda backend: "openai"
    )
    yield made
    made.abort()
    made.shutdown()


FAILED = Attempt("mock", "mock-model", 502, "upstream_error", 1.0, 0.1, 0x77)
CASES = {
    "plain": completion(),
    "stream": completion(stream=True, ttft_ms=1.25, usage=Usage(3, 9, 12, estimated=True)),
    "retried": completion(attempts=(FAILED, *completion().attempts)),
    "failed": completion(
        status_code=502,
        error_type="upstream_error",
        error_message="upstream said 502 — «non-ASCII»",
        attempts=(FAILED, FAILED),
        resolved_model=None,
    ),
    "client trace": completion(trace=TraceIds(2**127 + 5, 9, 2**63 + 1, True, "a=1,b=two")),
    "refused": completion(status_code=401, error_type="authentication_error", attempts=()),
}


@pytest.mark.parametrize("case", CASES)
def test_the_gateways_spans_encode_to_the_official_encoders_bytes(
    traces: otel.Traces, case: str
) -> None:
    c = CASES[case]
    assert c.trace is not None
    spans = traces.spans(c, c.trace)
    expected = official_encode(spans).SerializeToString()
    assert encode_spans(spans) == expected
    # Two requests in one batch share the resource and scope, as the official grouping does.
    assert encode_spans(spans + spans) == official_encode(spans + spans).SerializeToString()


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(attributes=st.dictionaries(st.text(min_size=1), values, max_size=5), name=st.text())
def test_any_attribute_values_encode_as_the_official_encoder_does(
    traces: otel.Traces, attributes: dict[str, Any], name: str
) -> None:
    c = completion()
    assert c.trace is not None
    span = traces.spans(c, c.trace)[0]
    mutated = otel.ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
    ours = encode_spans([mutated])
    assert ours == official_encode([mutated]).SerializeToString()
    assert ExportTraceServiceRequest.FromString(ours).resource_spans[0].scope_spans[0].spans


def test_the_exporter_sends_the_hand_encoded_bytes(
    traces: otel.Traces, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a later SDK renamed the client this relies on, the official path would run
    silently and slowly: this fails instead."""
    exporter = otel._WireExporter(endpoint="http://127.0.0.1:9/v1/traces")
    sent: list[bytes] = []

    class Result:
        success = True

    monkeypatch.setattr(exporter._client, "export", lambda data: sent.append(data) or Result())
    c = CASES["retried"]
    assert c.trace is not None
    spans = traces.spans(c, c.trace)
    assert exporter.export(spans) == otel.SpanExportResult.SUCCESS
    assert sent == [encode_spans(spans)]
    exporter.shutdown()
