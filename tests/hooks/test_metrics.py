"""/metrics: Prometheus names of SPEC 10, updated once per request, summed across workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support import MockUpstream, RunningGateway, free_port, wait_for_http


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items())
    )


def test_metrics_count_each_request_once(
    gateway: RunningGateway, http: httpx.Client, tag: str
) -> None:
    before = scrape(gateway.url)
    ok = http.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": f"{tag} a b"}]},
    )
    assert ok.status_code == 200
    stream = http.post(
        "/v1/chat/completions",
        json={
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": f"{tag} #mock chunks=4"}],
        },
    )
    assert stream.status_code == 200
    failed = http.post(
        "/v1/chat/completions",
        json={
            "model": "noretry",
            "messages": [{"role": "user", "content": f"{tag} #mock status=503"}],
        },
    )
    assert failed.status_code == 502
    for response in (ok, stream, failed):
        gateway.completion(response.headers["x-request-id"])
    after = scrape(gateway.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok_labels = {"model": "m", "backend": "mock", "status_code": "200", "error_type": ""}
    assert delta("sluicegate_requests_total", **ok_labels) == 2
    assert (
        delta(
            "sluicegate_requests_total",
            model="noretry",
            backend="noretry",
            status_code="502",
            error_type="upstream_error",
        )
        == 1
    )
    assert (
        delta("sluicegate_upstream_errors_total", backend="noretry", error_type="upstream_error")
        == 1
    )
    assert delta("sluicegate_tokens_total", kind="completion") >= 3 + 4
    assert delta("sluicegate_request_duration_seconds_count", model="m") == 2
    assert delta("sluicegate_time_to_first_token_seconds_count", model="m") == 1
    assert delta("sluicegate_overhead_seconds_count") >= 3
    assert value(after, "sluicegate_inflight_requests") == 0
    assert any(name == "sluicegate_target_state" for name, _ in after)


def test_metrics_need_no_key_and_do_not_count_themselves(gateway: RunningGateway) -> None:
    first = total(scrape(gateway.url), "sluicegate_requests_total")
    second = total(scrape(gateway.url), "sluicegate_requests_total")
    assert first == second


def test_metrics_are_summed_over_workers(mock: MockUpstream, tmp_path: Path, tag: str) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""
server: {{master_key: sk-master-metrics}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/gw.db"}}
backends:
  - {{name: mock, type: openai, base_url: "{mock.url}/v1"}}
models:
  - {{name: m, targets: [{{backend: mock, model: mock-model}}]}}
""")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sluicegate",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", 40)
        with httpx.Client(
            base_url=url, timeout=20, headers={"authorization": "Bearer sk-master-metrics"}
        ) as client:
            for i in range(30):
                # A fresh connection each time, so both workers take requests.
                response = httpx.post(
                    url + "/v1/chat/completions",
                    timeout=20,
                    headers={"authorization": "Bearer sk-master-metrics"},
                    json={"model": "m", "messages": [{"role": "user", "content": f"{tag} {i}"}]},
                )
                assert response.status_code == 200
            del client
        pids = set()
        for _ in range(6):
            samples = scrape(url)
            assert total(samples, "sluicegate_requests_total", model="m") == 30
            assert value(samples, "sluicegate_inflight_requests") == 0
            pids |= {dict(ls).get("pid") for (n, ls) in samples if n == "sluicegate_target_state"}
    finally:
        process.terminate()
        process.wait(20)
