"""/admin/backends: CRUD, api_key write-only, validation, conflicts, read-only config rows."""

from __future__ import annotations

from typing import Any

import httpx

from sluicegate.config.schema import BackendConfig
from sluicegate.storage import catalog
from sluicegate.storage.config_sync import backend_values

from .harness import AdminServer, FakeRuntime, error_of

SECRET = "sk-upstream-very-secret-0001"


def new_backend(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "vllm", "type": "openai", "base_url": "http://127.0.0.1:9/v1", **fields}
    response = http.post("/admin/backends", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def config_backend(server: AdminServer, name: str = "from-file") -> dict[str, Any]:
    values = backend_values(BackendConfig(name=name, type="demo", api_key=SECRET))
    row: dict[str, Any] = server.call(
        lambda: catalog.create_backend(server.db, values, source="config")
    )
    return row


def test_crud_round_trip(http: httpx.Client, runtime: FakeRuntime) -> None:
    created = new_backend(http, headers={"x-team": "a"}, timeouts={"idle": 7})
    assert created["name"] == "vllm"
    assert created["source"] == "api"
    assert created["timeouts"] == {"connect": 5.0, "first_token": 60.0, "idle": 7.0, "total": 600.0}
    assert created["max_retries"] == 2
    backend_id = created["id"]
    assert http.get(f"/admin/backends/{backend_id}").json() == created
    assert http.get("/admin/backends").json() == {"data": [created]}

    updated = http.put(f"/admin/backends/{backend_id}", json={"timeouts": {"total": 30}})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["timeouts"] == {"connect": 5.0, "first_token": 60.0, "idle": 7.0, "total": 30.0}
    assert body["headers"] == {"x-team": "[redacted]"}  # omitted: kept (values never shown)
    assert body["base_url"] == "http://127.0.0.1:9/v1"
    assert http.get(f"/admin/backends/{backend_id}").json() == body

    reset = http.put(f"/admin/backends/{backend_id}", json={"base_url": None, "headers": {}})
    assert reset.json()["base_url"] is None and reset.json()["headers"] == {}

    gone = http.delete(f"/admin/backends/{backend_id}")
    assert gone.status_code == 200
    assert gone.json() == {"id": backend_id, "deleted": True}
    assert http.get(f"/admin/backends/{backend_id}").status_code == 404
    assert http.get("/admin/backends").json() == {"data": []}
    assert runtime.changes == 4  # create, two updates, delete


def test_api_key_is_write_only(http: httpx.Client, server: AdminServer) -> None:
    created = http.post("/admin/backends", json={"name": "up", "type": "openai", "api_key": SECRET})
    backend_id = created.json()["id"]
    responses = [
        created,
        http.get("/admin/backends"),
        http.get(f"/admin/backends/{backend_id}"),
        http.put(f"/admin/backends/{backend_id}", json={"max_retries": 1}),
        http.put(f"/admin/backends/{backend_id}", json={"api_key": None}),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert SECRET not in response.text
    assert created.json()["api_key"] is None
    assert created.json()["api_key_set"] is True
    # Neither the PUT without api_key nor the one with null (what reads show) lost the key.
    assert responses[-1].json()["api_key_set"] is True
    row = server.call(lambda: catalog.get_backend(server.db, backend_id))
    assert row is not None and row["api_key"] == SECRET

    replaced = http.put(f"/admin/backends/{backend_id}", json={"api_key": "sk-new"})
    assert "sk-new" not in replaced.text and replaced.json()["api_key_set"] is True
    cleared = http.put(f"/admin/backends/{backend_id}", json={"api_key": ""})
    assert cleared.json()["api_key_set"] is False
    row = server.call(lambda: catalog.get_backend(server.db, backend_id))
    assert row is not None and row["api_key"] is None


def test_validation_errors_name_the_field(http: httpx.Client, runtime: FakeRuntime) -> None:
    cases = [
        ({"name": "b", "type": "nope"}, "type"),
        ({"type": "openai"}, "name"),
        ({"name": "has space", "type": "openai"}, "name"),
        ({"name": "b", "type": "openai", "timeouts": {"connect": -1}}, "timeouts.connect"),
        ({"name": "b", "type": "openai", "max_retries": 99}, "max_retries"),
        ({"name": "b", "type": "openai", "surprise": 1}, "surprise"),
        ({"name": "b", "type": "azure"}, None),  # a whole-object rule
        # Bounds of what the catalog stores (names are VARCHAR(200)), and what no request
        # could carry: each was a 500 from the database or the response encoder before.
        ({"name": "b" * 201, "type": "openai"}, "name"),
        ({"name": "b", "type": "openai", "cooldown": {"failures": 2**70}}, "cooldown.failures"),
        ({"name": "b", "type": "openai", "headers": {"a b": "x"}}, "headers.a b.[key]"),
        ({"name": "b", "type": "openai", "headers": {"x": "a\r\nb"}}, "headers.x"),
    ]
    for body, param in cases:
        response = http.post("/admin/backends", json=body)
        assert response.status_code == 400, (body, response.text)
        error = error_of(response)
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "invalid_request"
        assert error["param"] == param, (body, error)
    infinite = http.post(
        "/admin/backends",
        content=b'{"name": "b", "type": "openai", "timeouts": {"total": 1e400}}',
        headers={"content-type": "application/json"},
    )
    assert (infinite.status_code, error_of(infinite)["param"]) == (400, "timeouts.total")
    malformed = http.post(
        "/admin/backends", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert error_of(malformed)["code"] == "invalid_json"
    assert runtime.changes == 0


def test_put_is_validated_after_merging(http: httpx.Client) -> None:
    backend_id = new_backend(http, base_url=None)["id"]
    response = http.put(f"/admin/backends/{backend_id}", json={"type": "azure"})
    assert response.status_code == 400
    assert "azure" in error_of(response)["message"]
    bad_field = http.put(f"/admin/backends/{backend_id}", json={"timeouts": {"idle": "slow"}})
    assert error_of(bad_field)["param"] == "timeouts.idle"
    no_name = http.put(f"/admin/backends/{backend_id}", json={"name": None})
    assert error_of(no_name)["param"] == "name"
    assert http.get(f"/admin/backends/{backend_id}").json()["type"] == "openai"


def test_unknown_id_is_a_404(http: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = http.request(method, "/admin/backends/nope", json={"max_retries": 1})
        assert response.status_code == 404
        error = error_of(response)
        assert (error["type"], error["code"]) == ("invalid_request_error", "not_found")


def test_duplicate_name_is_a_409(http: httpx.Client, runtime: FakeRuntime) -> None:
    new_backend(http, api_key=SECRET)
    again = http.post("/admin/backends", json={"name": "vllm", "type": "demo", "api_key": SECRET})
    assert again.status_code == 409
    error = error_of(again)
    assert (error["type"], error["code"]) == ("invalid_request_error", "conflict")
    assert SECRET not in again.text
    other = new_backend(http, name="other")
    renamed = http.put(f"/admin/backends/{other['id']}", json={"name": "vllm"})
    assert renamed.status_code == 409
    assert runtime.changes == 2


def test_config_backend_is_read_only(http: httpx.Client, server: AdminServer) -> None:
    row = config_backend(server)
    listed = http.get("/admin/backends").json()["data"]
    assert [(b["name"], b["source"], b["api_key"]) for b in listed] == [
        ("from-file", "config", None)
    ]
    assert SECRET not in http.get("/admin/backends").text
    for response in (
        http.put(f"/admin/backends/{row['id']}", json={"max_retries": 0}),
        http.delete(f"/admin/backends/{row['id']}"),
    ):
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "read_only"
        assert "config file" in error["message"]
    assert server.runtime is not None and server.runtime.changes == 0


def test_a_backend_models_route_to_cannot_be_deleted_or_renamed(http: httpx.Client) -> None:
    backend_id = new_backend(http)["id"]
    model = {"name": "fast", "targets": [{"backend": "vllm", "model": "qwen"}]}
    assert http.post("/admin/models", json=model).status_code == 201
    for response in (
        http.delete(f"/admin/backends/{backend_id}"),
        http.put(f"/admin/backends/{backend_id}", json={"name": "renamed"}),
    ):
        assert response.status_code == 409
        assert "'fast'" in error_of(response)["message"]
    assert http.get(f"/admin/backends/{backend_id}").json()["name"] == "vllm"


def test_header_values_are_write_only(http: httpx.Client, server: AdminServer) -> None:
    """Header values often carry upstream credentials: reads show only their names, and a
    header PUT back as "[redacted]" keeps the stored value."""
    created = new_backend(http, headers={"x-token": SECRET, "x-team": "a"})
    assert created["headers"] == {"x-token": "[redacted]", "x-team": "[redacted]"}
    assert SECRET not in http.get("/admin/backends").text
    backend_id = created["id"]
    echoed = {**created["headers"], "x-team": "b"}  # the read, edited, sent back
    assert http.put(f"/admin/backends/{backend_id}", json={"headers": echoed}).status_code == 200
    row = server.call(lambda: catalog.get_backend(server.db, backend_id))
    assert row["headers"] == {"x-token": SECRET, "x-team": "b"}


def test_azure_api_version_is_stored_and_validated(http: httpx.Client) -> None:
    created = new_backend(
        http,
        name="az",
        type="azure",
        base_url="https://r.openai.azure.com",
        api_version="2024-06-01",
    )
    assert created["api_version"] == "2024-06-01"
    assert http.get(f"/admin/backends/{created['id']}").json()["api_version"] == "2024-06-01"
    refused = http.post(
        "/admin/backends", json={"name": "o", "type": "openai", "api_version": "2024-06-01"}
    )
    assert refused.status_code == 400, refused.text


def test_continue_final_message_is_stored_and_validated(http: httpx.Client) -> None:
    created = new_backend(http, name="vllm-cfm", continue_final_message=True)
    assert created["continue_final_message"] is True
    stored = http.get(f"/admin/backends/{created['id']}").json()
    assert stored["continue_final_message"] is True
    changed = http.put(f"/admin/backends/{created['id']}", json={"continue_final_message": False})
    assert changed.status_code == 200 and changed.json()["continue_final_message"] is False
    refused = http.post(
        "/admin/backends",
        json={"name": "c", "type": "anthropic", "continue_final_message": True},
    )
    assert refused.status_code == 400, refused.text
    assert "continue_final_message" in refused.text
