"""/admin/analytics/timeseries over HTTP: the bucket shape, defaults, filters, every 400, and
one gateway whose own requests show up in the current bucket. Bucket values are checked field
by field against Python in tests/storage/test_timeseries.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest

from sluicegate.storage import request_log
from support import DAY, HOUR, T0, RunningGateway, completion, wait_until

from .harness import MASTER_KEY, AdminServer, demo_gateway, error_of

MINUTE = timedelta(minutes=1)
FIELDS = {
    "start", "requests", "errors", "status_2xx", "status_4xx", "status_5xx", "prompt_tokens",
    "completion_tokens", "cost_usd", "latency_ms_p50", "latency_ms_p95", "ttft_ms_p50",
    "ttft_ms_p95",
}  # fmt: skip
COMPLETIONS = [
    completion(1, T0, latency_ms=100.0),
    completion(2, T0 + 10 * MINUTE, model="m2", backend="b2", stream=True, latency_ms=300.0,
               ttft_ms=40.0, status_code=502, error_type="upstream_error", cost_usd=1.0),
    completion(3, T0 + HOUR, user_id="bob", latency_ms=50.0, status_code=429,
               error_type="rate_limited"),
    completion(4, T0 + 3 * HOUR, user_id="bob", backend="b2", latency_ms=70.0),
]  # fmt: skip


@pytest.fixture
def logged(server: AdminServer) -> None:
    rows = [request_log.row_from_completion(c) for c in COMPLETIONS]
    server.call(lambda: request_log.insert_rows(server.db, rows))


def buckets(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/admin/analytics/timeseries", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"buckets"}
    assert all(set(bucket) == FIELDS for bucket in body["buckets"])
    found: list[dict[str, Any]] = body["buckets"]
    return found


def starts(found: list[dict[str, Any]]) -> list[str]:
    return [bucket["start"] for bucket in found]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.usefixtures("logged")
def test_buckets_as_json(http: httpx.Client) -> None:
    found = buckets(http, bucket="hour", since=iso(T0), until=iso(T0 + 4 * HOUR))
    assert starts(found) == [iso(T0 + i * HOUR) for i in range(4)]
    assert found[0] == {
        "start": "2030-01-01T10:00:00Z",
        "requests": 2,
        "errors": 1,
        "status_2xx": 1,
        "status_4xx": 0,
        "status_5xx": 1,
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "cost_usd": 1.25,
        "latency_ms_p50": 100.0,
        "latency_ms_p95": 300.0,
        "ttft_ms_p50": 40.0,
        "ttft_ms_p95": 40.0,
    }
    assert (found[1]["requests"], found[1]["status_4xx"], found[1]["ttft_ms_p50"]) == (1, 1, None)
    assert found[2]["requests"] == 0 and found[2]["latency_ms_p50"] is None
    days = buckets(http, bucket="day", since="2030-01-01", until="2030-01-31")
    assert [b["requests"] for b in days] == [4] + [0] * 29


@pytest.mark.usefixtures("logged")
def test_filters(http: httpx.Client) -> None:
    window = {"bucket": "hour", "since": iso(T0), "until": iso(T0 + 4 * HOUR)}
    cases = [
        ({"model": "m2"}, [1, 0, 0, 0]),
        ({"model": "gpt-4o"}, [0, 0, 0, 0]),  # the resolved model: no match
        ({"user_id": "bob"}, [0, 1, 0, 1]),
        ({"backend": "b2"}, [1, 0, 0, 1]),
        ({"backend": "b2", "user_id": "bob"}, [0, 0, 0, 1]),
    ]
    for params, counts in cases:
        assert [b["requests"] for b in buckets(http, **window, **params)] == counts, params


@pytest.mark.usefixtures("logged")
def test_bucket_boundaries(http: httpx.Client) -> None:
    # r3 is exactly at T0 + 1h: in the bucket starting there, not in the one before.
    [at] = buckets(http, bucket="minute", since=iso(T0 + HOUR), until=iso(T0 + HOUR + MINUTE))
    assert (at["start"], at["requests"]) == (iso(T0 + HOUR), 1)
    [before] = buckets(http, bucket="minute", since=iso(T0 + HOUR - MINUTE), until=iso(T0 + HOUR))
    assert before["requests"] == 0
    # Unaligned bounds: buckets are still whole UTC hours, holding only rows inside the range.
    found = buckets(http, bucket="hour", since=iso(T0 + 5 * MINUTE), until=iso(T0 + HOUR + MINUTE))
    assert starts(found) == [iso(T0), iso(T0 + HOUR)]
    assert [b["requests"] for b in found] == [1, 1]
    assert buckets(http, since=iso(T0), until=iso(T0)) == []


def floor_hour(moment: datetime) -> str:
    return iso(moment.replace(minute=0, second=0, microsecond=0))


@pytest.mark.usefixtures("logged")
def test_default_range_ends_with_the_current_bucket(http: httpx.Client) -> None:
    before = datetime.now(UTC)
    hours = buckets(http)
    after = datetime.now(UTC)
    assert len(hours) == 24 and hours[-1]["start"] in {floor_hour(before), floor_hour(after)}
    assert len(buckets(http, bucket="minute")) == 60
    days = buckets(http, bucket="day")
    assert len(days) == 30 and days[-1]["start"][:10] in {str(before.date()), str(after.date())}
    # Only `since`: up to the current bucket. Only `until`: the default count before it.
    since = before - 3 * HOUR
    found = buckets(http, since=iso(since))
    assert found[0]["start"] == floor_hour(since) and len(found) in {4, 5}
    found = buckets(http, until="2030-01-02")
    assert starts(found) == [iso(T0 - 10 * HOUR + i * HOUR) for i in range(24)]
    assert sum(b["requests"] for b in found) == 4
    future = iso(after + DAY).replace(":00Z", ":00.5Z")
    assert buckets(http, since=future) == []


def test_bad_parameters_are_400s(http: httpx.Client) -> None:
    cases = [
        ({"bucket": "week"}, "bucket"),
        ({"bucket": ""}, "bucket"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2030-02-30"}, "until"),
        ({"since": "2030-01-02", "until": "2030-01-01"}, "until"),
        ({"model": "m" * 201}, "model"),
        ({"user_id": "u" * 201}, "user_id"),
        ({"backend": "b" * 201}, "backend"),
        ({"bucket": "minute", "since": "2030-01-01", "until": "2030-01-03"}, "bucket"),
        ({"bucket": "minute", "since": iso(T0), "until": iso(T0 + 1501 * MINUTE)}, "bucket"),
        ({"bucket": "hour", "since": "2000-01-01"}, "bucket"),
    ]  # fmt: skip
    for params, param in cases:
        response = http.get("/admin/analytics/timeseries", params=params)
        assert response.status_code == 400, params
        error = error_of(response)
        assert (error["type"], error["param"]) == ("invalid_request_error", param), params
        if param == "bucket" and "since" in params:
            assert "at most 1500" in error["message"], error
    # Exactly at the cap, and at the ends of time: answered.
    at_cap = {"bucket": "minute", "since": iso(T0), "until": iso(T0 + 1500 * MINUTE)}
    assert len(buckets(http, **at_cap)) == 1500
    assert len(buckets(http, bucket="day", until="0001-01-02")) == 1
    assert len(buckets(http, bucket="day", since="9999-12-31T23:59:59Z")) == 0
    last = buckets(http, bucket="day", since="9999-12-30", until="9999-12-31T23:59:59.999999Z")
    assert starts(last) == ["9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z"]


def test_needs_the_master_key(server: AdminServer) -> None:
    for headers in ({}, {"authorization": f"Bearer {MASTER_KEY}x"}):
        response = httpx.get(server.url + "/admin/analytics/timeseries", headers=headers)
        assert response.status_code == 401
        assert error_of(response)["type"] == "authentication_error"


@pytest.fixture(scope="module")
def charts_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    yield from demo_gateway(
        tmp_path_factory.mktemp("timeseries"), MASTER_KEY, "carol", "sk-carol-charts"
    )


def test_the_gateways_own_requests_in_the_current_bucket(charts_gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(
        base_url=charts_gateway.url + "/v1", api_key="sk-carol-charts", max_retries=0
    )
    messages: Any = [{"role": "user", "content": "chart me"}]
    for _ in range(2):
        sdk.chat.completions.create(model="demo-echo", messages=messages)
    with sdk.chat.completions.create(model="demo-echo", messages=messages, stream=True) as stream:
        assert any(chunk.choices for chunk in stream)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=messages)
    admin = httpx.Client(
        base_url=charts_gateway.url, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    )

    def logged() -> list[dict[str, Any]]:
        found = buckets(admin, bucket="minute", user_id="carol")
        return [b for b in found if b["requests"]] if sum(b["requests"] for b in found) == 4 else []

    with admin:
        busy = wait_until(logged, 10)
        # All in the last minute or two (a minute may have turned over meanwhile).
        assert busy[-1]["start"] == buckets(admin, bucket="minute")[-1]["start"]
        assert len(busy) <= 2
        assert sum(b["status_2xx"] for b in busy) == 3
        assert sum(b["status_4xx"] for b in busy) == sum(b["errors"] for b in busy) == 1
        assert all(b["latency_ms_p50"] is not None for b in busy)
        assert any(b["ttft_ms_p50"] is not None for b in busy)
        demo = buckets(admin, bucket="minute", user_id="carol", model="demo-echo", backend="demo")
        assert sum(b["requests"] for b in demo) == 3
