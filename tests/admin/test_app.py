"""build_admin_app: master-key guard on every route, the error shape everywhere, /docs."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from sluicegate.config import ConfigError

from .harness import MASTER_KEY, AdminServer, FakeRuntime, error_of

# Every admin route; ids that do not exist (the guard answers before any lookup).
ROUTES = [
    ("GET", "/admin/backends"),
    ("POST", "/admin/backends"),
    ("GET", "/admin/backends/x"),
    ("PUT", "/admin/backends/x"),
    ("DELETE", "/admin/backends/x"),
    ("GET", "/admin/models"),
    ("POST", "/admin/models"),
    ("GET", "/admin/models/x"),
    ("PUT", "/admin/models/x"),
    ("DELETE", "/admin/models/x"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/x"),
    ("PUT", "/admin/users/x"),
    ("DELETE", "/admin/users/x"),
    ("GET", "/admin/users/x/keys"),
    ("POST", "/admin/users/x/keys"),
    ("DELETE", "/admin/keys/x"),
    ("GET", "/admin/permissions"),
    ("POST", "/admin/permissions"),
    ("GET", "/admin/permissions/x"),
    ("PUT", "/admin/permissions/x"),
    ("DELETE", "/admin/permissions/x"),
    ("GET", "/admin/analytics/requests"),
    ("GET", "/admin/analytics/requests/1"),
    ("GET", "/admin/analytics/usage?group_by=user"),
    ("GET", "/admin/analytics/timeseries"),
    ("POST", "/admin/reload"),
    ("GET", "/admin/live/logs"),
    ("GET", "/admin/no-such-route"),
]

BAD_CREDENTIALS = [
    {},
    {"authorization": "Bearer wrong-key"},
    {"authorization": f"Bearer {MASTER_KEY}x"},
    {"authorization": f"Basic {MASTER_KEY}"},
    {"x-api-key": "wrong-key"},
    # Authorization wins over x-api-key when both are sent (SPEC 3).
    {"authorization": "Bearer wrong-key", "x-api-key": MASTER_KEY},
]


def test_the_route_list_covers_every_documented_route(sqlite_server: AdminServer) -> None:
    spec = httpx.get(sqlite_server.url + "/openapi.json").json()
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    tested = {(method, path.split("?")[0]) for method, path in ROUTES}
    normalized = {
        (method, "/".join("{}" if part.startswith("{") else part for part in path.split("/")))
        for method, path in documented
    }
    ids = {"x", "1"}
    tested_shapes = {
        (method, "/".join("{}" if part in ids else part for part in path.split("/")))
        for method, path in tested
    }
    assert normalized <= tested_shapes


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("headers", BAD_CREDENTIALS, ids=range(len(BAD_CREDENTIALS)))
def test_every_route_refuses_a_missing_or_wrong_key(
    sqlite_server: AdminServer, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(method, sqlite_server.url + path, headers=headers, json={})
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "authentication_error"
    assert error["code"] == "invalid_api_key"
    assert MASTER_KEY not in response.text
    assert sqlite_server.runtime is not None and sqlite_server.runtime.changes == 0


def test_the_key_is_checked_before_the_body_is_parsed(sqlite_server: AdminServer) -> None:
    response = httpx.post(
        sqlite_server.url + "/admin/backends",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401


def test_x_api_key_header_is_accepted(sqlite_server: AdminServer) -> None:
    response = httpx.get(sqlite_server.url + "/admin/backends", headers={"x-api-key": MASTER_KEY})
    assert response.status_code == 200
    assert response.json() == {"data": []}


def test_without_a_master_key_the_admin_api_is_closed(tmp_path: Path) -> None:
    running = AdminServer(f"sqlite+aiosqlite:///{tmp_path}/x.db", master_key=None)
    try:
        for headers in ({}, {"authorization": "Bearer None"}, {"x-api-key": ""}):
            response = httpx.get(running.url + "/admin/backends", headers=headers)
            assert response.status_code == 401
    finally:
        running.stop()


def test_docs_and_openapi_are_served(sqlite_server: AdminServer) -> None:
    docs = httpx.get(sqlite_server.url + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = httpx.get(sqlite_server.url + "/openapi.json").json()
    assert spec["info"]["title"] == "sluicegate admin API"
    assert "/admin/users/{user_id}/keys" in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}


def test_unknown_path_and_wrong_method_use_the_error_shape(sqlite_server: AdminServer) -> None:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    missing = httpx.get(sqlite_server.url + "/admin/nothing-here", headers=headers)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    outside = httpx.get(sqlite_server.url + "/nothing-here")
    assert outside.status_code == 404
    assert error_of(outside)["type"] == "invalid_request_error"
    wrong = httpx.patch(sqlite_server.url + "/admin/backends", headers=headers)
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
    # GET and POST are two routes; Allow names the methods of both (RFC 9110 15.5.6).
    assert wrong.headers["allow"] == "GET, POST"
    item = httpx.request("TRACE", sqlite_server.url + "/admin/backends/x", headers=headers)
    assert item.status_code == 405
    assert item.headers["allow"] == "DELETE, GET, PUT"


def test_reload_returns_the_runtime_summary(http: httpx.Client, runtime: FakeRuntime) -> None:
    runtime.reload_result = {"backends": 2, "models": 1}
    response = http.post("/admin/reload")
    assert response.status_code == 200
    assert response.json() == {"backends": 2, "models": 1}
    assert runtime.reloads == 1


def test_reload_of_an_invalid_file_is_a_400_listing_the_problems(
    http: httpx.Client, runtime: FakeRuntime
) -> None:
    runtime.reload_result = ConfigError(["models[0].targets[0].backend: unknown backend 'x'"])
    response = http.post("/admin/reload")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert "models[0].targets[0].backend" in error["message"]


def test_an_unexpected_exception_is_a_500_without_its_text(
    http: httpx.Client, runtime: FakeRuntime
) -> None:
    runtime.reload_result = RuntimeError("secret-detail-123")
    response = http.post("/admin/reload")
    assert response.status_code == 500
    assert error_of(response)["message"] == "Internal server error."
    assert "secret-detail-123" not in response.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_unreachable_database_is_a_503(kind: str, tmp_path: Path) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db"
        if kind == "sqlite"
        else f"postgresql+asyncpg://u:pw-secret@127.0.0.1:{_closed_port()}/x"
    )
    running = AdminServer(url, migrate=False)
    try:
        headers = {"authorization": f"Bearer {MASTER_KEY}"}
        for method, path, body in [
            ("GET", "/admin/backends", None),
            ("POST", "/admin/backends", {"name": "b", "type": "demo", "api_key": "sk-up-1"}),
            ("GET", "/admin/analytics/requests", None),
        ]:
            response = httpx.request(method, running.url + path, headers=headers, json=body)
            assert response.status_code == 503, response.text
            error = error_of(response)
            assert (error["type"], error["code"]) == ("api_error", "database_unavailable")
            assert "pw-secret" not in response.text and "sk-up-1" not in response.text
    finally:
        running.stop()
