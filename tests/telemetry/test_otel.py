"""Traces end to end (SPEC 13): a gateway exporting to a real OTLP/HTTP receiver on a loopback
port, the mock upstream behind it; spans decoded from the protobuf and checked against the
request-log rows, the mock's recorded `traceparent` headers, and each attempt's outcome."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sluicegate.config.schema import DatabaseConfig, GatewayConfig, TelemetryConfig
from support import (
    ALICE_KEY,
    MASTER_KEY,
    ROOT,
    MockUpstream,
    RunningGateway,
    clean_env,
    free_port,
    wait_until,
)

from .collector import Collector, ReceivedSpan

CHAT = "/v1/chat/completions"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def traced_config(gateway: RunningGateway, folder: Path, endpoint: str) -> GatewayConfig:
    """The session gateway's config (backends on the mock, its users) exporting to `endpoint`."""
    return gateway.app.config.model_copy(
        update={
            "database": DatabaseConfig(url=f"sqlite+aiosqlite:///{folder}/gateway.db"),
            "telemetry": TelemetryConfig(
                otlp_endpoint=endpoint, service_name="gw-under-test", export_interval_seconds=0.05
            ),
        }
    )


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    receiver = Collector()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced(
    gateway: RunningGateway, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("otel")
    running = RunningGateway(traced_config(gateway, folder, collector.url))
    yield running
    running.stop()


def post(gw: RunningGateway, text: str, model: str = "m", **extra: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {ALICE_KEY}", **extra.pop("headers", {})}
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(gw.url + CHAT, json=body, headers=headers, timeout=30)


def trace_of(gw: RunningGateway, collector: Collector, request_id: str) -> list[ReceivedSpan]:
    """The request's span first, then its attempts' in time order, once all have arrived."""
    completion = gw.completion(request_id)
    root = wait_until(lambda: collector.by_request(request_id))

    def complete() -> list[ReceivedSpan] | None:
        spans = collector.trace(root.trace_id)
        mine = [s for s in spans if s is root or s.parent_span_id == root.span_id]
        return mine if len(mine) == 1 + len(completion.attempts) else None

    spans = wait_until(complete)
    children = sorted((s for s in spans if s is not root), key=lambda s: s.start_ns)
    return [root, *children]


def logged_row(gw: RunningGateway, request_id: str) -> dict[str, Any]:
    def row() -> dict[str, Any] | None:
        response = httpx.get(
            f"{gw.url}/admin/analytics/requests/{request_id}",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
        )
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = wait_until(row)
    return found


def upstream_traceparents(mock: MockUpstream, tag: str) -> list[str]:
    return [r["headers"].get("traceparent") for r in mock.requests(tag)]


def test_a_non_stream_request_is_one_trace_with_the_gen_ai_attributes_of_its_log_row(
    traced: RunningGateway, collector: Collector, mock: MockUpstream, tag: str
) -> None:
    response = post(traced, f"{tag} #mock chunks=4")
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    root, attempt = trace_of(traced, collector, request_id)
    row = logged_row(traced, request_id)
    assert (root.kind, root.name, root.parent_span_id) == ("SERVER", "chat m", "")
    assert root.resource["service.name"] == "gw-under-test"
    assert not root.error
    usage = response.json()["usage"]
    assert row["prompt_tokens"] == usage["prompt_tokens"]
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": row["model"],
        "gen_ai.response.model": row["resolved_model"],
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": row["prompt_tokens"],
        "gen_ai.usage.output_tokens": row["completion_tokens"],
        "http.response.status_code": 200,
        "sluicegate.request_id": request_id,
    }
    assert {k: root.attributes[k] for k in expected} == expected
    assert (row["model"], row["resolved_model"], row["completion_tokens"]) == ("m", "mock-model", 4)
    assert (attempt.kind, attempt.name, attempt.parent_span_id) == (
        "CLIENT",
        "chat mock-model",
        root.span_id,
    )
    assert attempt.attributes["http.response.status_code"] == 200
    assert attempt.attributes["sluicegate.backend"] == "mock"
    assert "sluicegate.stream" not in root.attributes
    assert root.start_ns <= attempt.start_ns < attempt.end_ns <= root.end_ns
    assert root.end_ns - root.start_ns == pytest.approx(row["latency_ms"] * 1e6, abs=2e6)
    # The upstream joined the same trace, as a child of the attempt's span.
    assert upstream_traceparents(mock, tag) == [f"00-{root.trace_id}-{attempt.span_id}-01"]


def test_a_stream_is_one_trace_whose_answering_attempt_lasts_the_whole_stream(
    traced: RunningGateway, collector: Collector, tag: str
) -> None:
    body: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
    response = post(traced, f"{tag} #mock chunks=5 inter_ms=20", **body)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
    usage = orjson.loads(events[-1])["usage"]
    root, attempt = trace_of(traced, collector, response.headers["x-request-id"])
    assert root.attributes["sluicegate.stream"] is True
    assert root.attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert root.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"] == 5
    assert root.attributes["sluicegate.ttft_ms"] > 0
    assert attempt.end_ns == root.end_ns  # 5 chunks 20 ms apart: well past the first event


def test_a_retried_request_shows_the_failed_attempt_as_an_error_span(
    traced: RunningGateway, collector: Collector, mock: MockUpstream, tag: str
) -> None:
    response = post(traced, f"{tag} #mock status=503 fail_times=1 n={tag}")
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    root, failed, answered = trace_of(traced, collector, request_id)
    completion = traced.completion(request_id)
    assert [a.status_code for a in completion.attempts] == [503, 200]
    assert failed.error and not answered.error and not root.error
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == completion.attempts[0].error_type
    assert answered.attributes["http.response.status_code"] == 200
    assert failed.end_ns <= answered.start_ns  # the backoff lies between them
    assert upstream_traceparents(mock, tag) == [
        f"00-{root.trace_id}-{failed.span_id}-01",
        f"00-{root.trace_id}-{answered.span_id}-01",
    ]


def test_a_fallback_shows_every_attempt_on_every_backend(
    traced: RunningGateway, collector: Collector, tag: str
) -> None:
    response = post(traced, f"{tag} #mock chunks=2", model="dead-then-m")
    assert response.status_code == 200
    root, *attempts = trace_of(traced, collector, response.headers["x-request-id"])
    assert [a.attributes["sluicegate.backend"] for a in attempts] == ["dead", "dead", "mock"]
    assert [a.error for a in attempts] == [True, True, False]
    assert all(a.attributes["error.type"] == "upstream_error" for a in attempts[:2])
    assert "http.response.status_code" not in attempts[0].attributes  # refused: no status
    assert root.attributes["gen_ai.request.model"] == "dead-then-m"
    assert root.attributes["gen_ai.response.model"] == "mock-model"


def test_a_failed_request_is_an_error_span_with_its_error_type(
    traced: RunningGateway, collector: Collector, tag: str
) -> None:
    response = post(traced, f"{tag} #mock status=500", model="noretry")
    assert response.status_code == 502
    root, attempt = trace_of(traced, collector, response.headers["x-request-id"])
    assert root.error and attempt.error
    assert root.attributes["error.type"] == "upstream_error"
    assert root.attributes["http.response.status_code"] == 502
    assert root.status_message == response.json()["error"]["message"]
    assert "gen_ai.usage.input_tokens" not in root.attributes


def test_the_clients_traceparent_is_the_request_spans_parent_and_reaches_the_upstream(
    traced: RunningGateway, collector: Collector, mock: MockUpstream, tag: str
) -> None:
    headers = {
        "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
        "tracestate": "vendor=opaque",
    }
    response = post(traced, f"{tag} #mock chunks=2", headers=headers)
    assert response.status_code == 200
    root, attempt = trace_of(traced, collector, response.headers["x-request-id"])
    assert (root.trace_id, root.parent_span_id) == (CLIENT_TRACE, CLIENT_SPAN)
    assert attempt.trace_id == CLIENT_TRACE
    (seen,) = mock.requests(tag)
    assert seen["headers"]["traceparent"] == f"00-{CLIENT_TRACE}-{attempt.span_id}-01"
    assert seen["headers"]["tracestate"] == "vendor=opaque"


def test_an_invalid_traceparent_starts_a_new_trace(
    traced: RunningGateway, collector: Collector, mock: MockUpstream, tag: str
) -> None:
    bad = f"00-{'0' * 32}-{CLIENT_SPAN}-01"  # an all-zero trace id is invalid
    response = post(traced, f"{tag} #mock chunks=2", headers={"traceparent": bad})
    assert response.status_code == 200
    root, attempt = trace_of(traced, collector, response.headers["x-request-id"])
    assert root.parent_span_id == "" and root.trace_id != "0" * 32
    assert upstream_traceparents(mock, tag) == [f"00-{root.trace_id}-{attempt.span_id}-01"]


def test_a_trace_the_client_did_not_sample_is_propagated_but_not_exported(
    traced: RunningGateway, collector: Collector, mock: MockUpstream, tag: str
) -> None:
    unsampled = "a" * 32
    response = post(
        traced, f"{tag} #mock chunks=2", headers={"traceparent": f"00-{unsampled}-{CLIENT_SPAN}-00"}
    )
    assert response.status_code == 200
    (sent,) = upstream_traceparents(mock, tag)
    assert sent.startswith(f"00-{unsampled}-") and sent.endswith("-00")
    assert not sent.startswith(f"00-{unsampled}-{CLIENT_SPAN}")  # our attempt's span id
    # Spans leave in the order their requests ended: once a later one arrived, the
    # unsampled request would have too.
    later = post(traced, f"later {tag} #mock chunks=2")
    trace_of(traced, collector, later.headers["x-request-id"])
    assert collector.trace(unsampled) == []


def test_a_collector_that_is_down_costs_requests_nothing(
    gateway: RunningGateway,
    tmp_path: Path,
    tag: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    running = RunningGateway(traced_config(gateway, tmp_path, down))
    try:
        answers = [post(running, f"{tag} {i} #mock chunks=2") for i in range(3)]
        answers.append(post(running, f"{tag} s #mock chunks=2", stream=True))
        assert [a.status_code for a in answers] == [200] * 4
        assert "data: [DONE]" in answers[-1].text
        for answer in answers:
            assert running.completion(answer.headers["x-request-id"]).error_type is None

        def export_failure_logged() -> bool:
            return any(r.name.startswith("opentelemetry") for r in caplog.records)

        wait_until(export_failure_logged, 15)
    finally:
        running.stop()
    assert not running.thread.is_alive()  # shutdown did not hang on the dead collector


def test_spans_past_a_full_queue_are_dropped_with_one_warning_and_requests_go_on(
    gateway: RunningGateway,
    tmp_path: Path,
    tag: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sluicegate.telemetry import otel

    # Room for two requests' spans; the dead collector holds each export in its retries (1 s
    # backoff and more), so the queue fills after a few requests.
    monkeypatch.setattr(otel, "_QUEUE_SPANS", 4)
    monkeypatch.setattr(otel, "_BATCH_SPANS", 2)
    caplog.set_level(logging.WARNING)
    running = RunningGateway(traced_config(gateway, tmp_path, f"http://127.0.0.1:{free_port()}"))

    def full() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "sluicegate.telemetry"]

    try:

        def answered_until_full() -> list[str]:
            assert post(running, f"{tag} #mock chunks=2").status_code == 200
            return full()

        (warning,) = wait_until(answered_until_full, 20)
        assert "span queue is full" in warning
        for _ in range(3):  # more drops, no more warnings within the minute
            assert post(running, f"{tag} #mock chunks=2").status_code == 200
        assert len(full()) == 1
        assert not any(r.getMessage().startswith("Queue full") for r in caplog.records)
    finally:
        running.stop()


def test_with_telemetry_off_the_clients_trace_headers_are_forwarded_unchanged(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    valid = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    headers = {"traceparent": valid, "tracestate": "vendor=opaque"}
    assert post(gateway, f"{tag} ok #mock chunks=2", headers=headers).status_code == 200
    (seen,) = mock.requests(f"{tag} ok")
    assert (seen["headers"]["traceparent"], seen["headers"]["tracestate"]) == (
        valid,
        "vendor=opaque",
    )
    invalid = {"traceparent": valid.upper(), "tracestate": "vendor=opaque"}
    assert post(gateway, f"{tag} bad #mock chunks=2", headers=invalid).status_code == 200
    (seen,) = mock.requests(f"{tag} bad")
    assert "traceparent" not in seen["headers"] and "tracestate" not in seen["headers"]


OFF_SCRIPT = textwrap.dedent(
    """
    import sys, httpx
    from sluicegate.config.schema import GatewayConfig
    from support import RunningGateway
    config = GatewayConfig.model_validate({
        "backends": [{"name": "demo", "type": "demo", "models": ["demo-echo"]}],
        "models": [{"name": "demo-echo", "targets": [{"backend": "demo", "model": "demo-echo"}]}],
        "users": [{"name": "u", "api_keys": ["sk-u"], "models": ["*"]}],
    })
    gw = RunningGateway(config)
    headers = {"authorization": "Bearer sk-u",
               "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    for stream in (False, True):
        body = {"model": "demo-echo", "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
    gw.stop()
    print(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))
    """
)


def test_with_telemetry_off_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    env = clean_env()  # the script imports tests/support.py: put tests/ on its path
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_serve_refuses_to_start_when_telemetry_is_on_but_the_sdk_is_missing(
    tmp_path: Path,
) -> None:
    hidden = tmp_path / "hidden" / "opentelemetry"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    config = tmp_path / "gw.yaml"
    config.write_text("telemetry:\n  otlp_endpoint: http://127.0.0.1:4318\n")
    env = clean_env()
    env["PYTHONPATH"] = str(tmp_path / "hidden") + ":" + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "sluicegate", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "OpenTelemetry is not installed" in done.stderr
    assert "pip install 'sluicegate[otel]'" in done.stderr


def test_the_endpoint_is_a_base_url_unless_it_names_the_traces_path() -> None:
    assert TelemetryConfig().traces_url is None
    base = TelemetryConfig(otlp_endpoint="http://collector:4318/")
    assert base.traces_url == "http://collector:4318/v1/traces"
    full = TelemetryConfig(otlp_endpoint="https://collector/v1/traces")
    assert full.traces_url == "https://collector/v1/traces"
