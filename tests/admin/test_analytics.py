"""/admin/analytics: request-log filters, paging and order, one row with bodies, usage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from sluicegate.record import Attempt, Usage
from sluicegate.storage import request_log
from support import DAY, HOUR, T0, completion

from .harness import AdminServer, error_of

COMPLETIONS = [
    completion(1, T0),
    completion(2, T0 + HOUR, model="m2", backend="b2", stream=True, status_code=499,
               error_type="client_disconnected", ttft_ms=80.0,
               attempts=(Attempt("b2", "gpt-4o", 200, None, 12.5),)),
    completion(3, T0 + DAY, user_id="bob", key_id="k2", usage=Usage(100, 50, 150), cost_usd=1.0),
    completion(4, T0 + DAY + HOUR, user_id=None, key_id=None, model=None, resolved_model=None,
               backend=None, status_code=401, error_type="auth_error", usage=Usage(),
               cost_usd=0.0),
    completion(5, T0 + 2 * DAY, user_id="bob", backend="b2", status_code=502,
               error_type="upstream_error", error_message="boom", detail_logged=True,
               request_body='{"model": "m1"}', response_body="oops", usage=Usage(7, 0, 7),
               cost_usd=0.5),
    completion(6, T0 + 2 * DAY, user_id="bob", usage=Usage(1, 1, 2, estimated=True),
               cost_usd=0.125),
]  # fmt: skip


@pytest.fixture
def logged(server: AdminServer) -> None:
    rows = [request_log.row_from_completion(c) for c in COMPLETIONS]
    server.call(lambda: request_log.insert_rows(server.db, rows))


def request_ids(http: httpx.Client, **params: Any) -> tuple[list[str], int]:
    response = http.get("/admin/analytics/requests", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"rows", "total"}
    return [row["request_id"] for row in body["rows"]], body["total"]


@pytest.mark.usefixtures("logged")
def test_rows_newest_first_with_total_and_paging(http: httpx.Client) -> None:
    assert request_ids(http) == (["r6", "r5", "r4", "r3", "r2", "r1"], 6)
    assert request_ids(http, limit=2) == (["r6", "r5"], 6)
    assert request_ids(http, limit=2, offset=2) == (["r4", "r3"], 6)
    assert request_ids(http, offset=10) == ([], 6)


@pytest.mark.usefixtures("logged")
def test_filters(http: httpx.Client) -> None:
    since, until = (T0 + DAY).isoformat(), (T0 + 2 * DAY).isoformat()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"user_id": "bob"}, ["r6", "r5", "r3"]),
        ({"model": "m2"}, ["r2"]),
        ({"backend": "b2"}, ["r5", "r2"]),
        ({"status_code": 502}, ["r5"]),
        ({"error_type": "auth_error"}, ["r4"]),
        ({"stream": "true"}, ["r2"]),
        ({"stream": "false", "user_id": "alice"}, ["r1"]),
        ({"detailLogged": "true"}, ["r5"]),
        ({"since": since}, ["r6", "r5", "r4", "r3"]),
        ({"since": since, "until": until}, ["r4", "r3"]),  # until is exclusive
        ({"since": str(int((T0 + DAY).timestamp()))}, ["r6", "r5", "r4", "r3"]),
        ({"until": "2030-01-02"}, ["r2", "r1"]),  # a date is its midnight, UTC
        ({"until": "2030-01-01T11:30:00+01:00"}, ["r1"]),
        ({"user_id": "bob", "backend": "b1", "limit": 1}, ["r6"]),
    ]
    for params, expected in cases:
        ids, total = request_ids(http, **params)
        assert ids == expected, params
        if "limit" not in params:
            assert total == len(expected), params
    assert request_ids(http, user_id="bob", backend="b1", limit=1)[1] == 2


@pytest.mark.usefixtures("logged")
def test_list_rows_have_every_log_field_but_no_bodies(http: httpx.Client) -> None:
    rows = http.get("/admin/analytics/requests", params={"model": "m2"}).json()["rows"]
    [row] = rows
    assert "request_body" not in row and "response_body" not in row
    assert row["attempts"] == [
        {"backend": "b2", "model": "gpt-4o", "status_code": 200, "error_type": None,
         "latency_ms": 12.5}
    ]  # fmt: skip
    assert row["stream"] is True and row["ttft_ms"] == 80.0 and row["status_code"] == 499
    assert datetime.fromisoformat(row["created_at"]) == T0 + HOUR
    spec_fields = {
        "id", "request_id", "created_at", "user_id", "key_id", "path", "model",
        "resolved_model", "backend", "stream", "status_code", "error_type", "error_message",
        "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "latency_ms",
        "ttft_ms", "attempts", "client_ip", "detail_logged",
    }  # fmt: skip
    assert spec_fields <= set(row)


@pytest.mark.usefixtures("logged")
def test_one_row_with_bodies_as_text(http: httpx.Client) -> None:
    [listed] = http.get("/admin/analytics/requests", params={"status_code": 502}).json()["rows"]
    response = http.get(f"/admin/analytics/requests/{listed['id']}")
    assert response.status_code == 200
    row = response.json()
    assert row["request_body"] == '{"model": "m1"}' and row["response_body"] == "oops"
    assert {k: v for k, v in row.items() if not k.endswith("_body")} == listed
    by_request_id = http.get("/admin/analytics/requests/r5").json()
    assert by_request_id == row
    plain = http.get("/admin/analytics/requests/r1").json()
    assert plain["request_body"] is None and plain["response_body"] is None
    for missing in ("999999", "no-such-request", "9" * 30):
        response = http.get(f"/admin/analytics/requests/{missing}")
        assert response.status_code == 404, missing
        assert error_of(response)["code"] == "not_found"


def test_bad_query_parameters_are_400s(http: httpx.Client) -> None:
    cases = [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status_code": "abc"}, "status_code"),
        ({"stream": "maybe"}, "stream"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2030-01-02", "until": "2030-01-01"}, "until"),
        # Past a 64-bit integer the database driver failed (a 500).
        ({"offset": 2**63}, "offset"),
        ({"offset": 10**38}, "offset"),
        ({"status_code": 10**38}, "status_code"),
        ({"status_code": 99}, "status_code"),
        ({"model": "m" * 201}, "model"),
        # Only the forms the OpenAPI schema names; no time past year 9999 once in UTC.
        ({"since": "1e5"}, "since"),
        ({"since": " 12"}, "since"),
        ({"since": "2030-01-01T10:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-23:59"}, "until"),
        ({"until": "2030-02-30"}, "until"),
    ]
    for params, param in cases:
        response = http.get("/admin/analytics/requests", params=params)
        assert response.status_code == 400, params
        error = error_of(response)
        assert (error["type"], error["param"]) == ("invalid_request_error", param), params
    accepted = [
        {"limit": 1000},
        {"offset": 2**63 - 1},
        {"since": "2030-01-01t10:00:00.123456789z", "until": ""},
        {"since": "1893456000.5"},
    ]
    for params in accepted:
        response = http.get("/admin/analytics/requests", params=params)
        assert response.status_code == 200, (params, response.text)


@pytest.mark.usefixtures("logged")
def test_usage_per_group(http: httpx.Client) -> None:
    def usage(group_by: str, **params: Any) -> dict[str | None, dict[str, Any]]:
        response = http.get("/admin/analytics/usage", params={"group_by": group_by, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["group_by"] == group_by
        return {row.pop("group"): row for row in body["rows"]}

    by_user = usage("user")
    assert list(by_user) == ["alice", "bob", None]
    assert by_user["bob"] == {
        "requests": 3,
        "errors": 1,
        "prompt_tokens": 108,
        "completion_tokens": 51,
        "total_tokens": 159,
        "cost_usd": 1.625,
    }
    assert by_user["alice"]["requests"] == 2 and by_user["alice"]["errors"] == 1
    assert {g: r["requests"] for g, r in usage("model").items()} == {"m1": 4, "m2": 1, None: 1}
    assert {g: r["requests"] for g, r in usage("backend").items()} == {"b1": 3, "b2": 2, None: 1}
    by_day = usage("day")
    assert {g: r["requests"] for g, r in by_day.items()} == {
        "2030-01-01": 2,
        "2030-01-02": 2,
        "2030-01-03": 2,
    }
    assert by_day["2030-01-02"]["total_tokens"] == 150
    assert list(usage("day", since="2030-01-02", until="2030-01-03")) == ["2030-01-02"]


def test_usage_needs_a_known_group_by(http: httpx.Client) -> None:
    for params in ({"group_by": "team"}, {}):
        response = http.get("/admin/analytics/usage", params=params)
        assert response.status_code == 400
        assert error_of(response)["param"] == "group_by"
