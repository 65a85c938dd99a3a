"""/admin/models: CRUD, cross-references like check-config, read-only config rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sluicegate.config.schema import ModelConfig
from sluicegate.storage import catalog
from sluicegate.storage.config_sync import model_values

from .harness import AdminServer, FakeRuntime, error_of


@pytest.fixture
def backends(http: httpx.Client) -> None:
    for name in ("a", "b"):
        response = http.post("/admin/backends", json={"name": name, "type": "demo"})
        assert response.status_code == 201


def new_model(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "fast", "targets": [{"backend": "a", "model": "m1"}], **fields}
    response = http.post("/admin/models", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.usefixtures("backends")
def test_crud_round_trip(http: httpx.Client, runtime: FakeRuntime) -> None:
    changes = runtime.changes
    created = new_model(http, pricing={"input_per_mtok": 0.15, "output_per_mtok": 0.6})
    assert created["targets"] == [{"backend": "a", "model": "m1", "weight": 1.0}]
    assert created["strategy"] == "weighted"
    assert created["pricing"] == {"input_per_mtok": 0.15, "output_per_mtok": 0.6}
    assert created["source"] == "api"
    model_id = created["id"]
    assert http.get(f"/admin/models/{model_id}").json() == created
    assert http.get("/admin/models").json() == {"data": [created]}

    body = {
        "targets": [{"backend": "a", "model": "m1", "weight": 3}, {"backend": "b", "model": "m2"}],
        "strategy": "round_robin",
        "pricing": {"output_per_mtok": 2},
    }
    updated = http.put(f"/admin/models/{model_id}", json=body).json()
    assert [t["backend"] for t in updated["targets"]] == ["a", "b"]
    assert updated["strategy"] == "round_robin"
    assert updated["pricing"] == {"input_per_mtok": 0.15, "output_per_mtok": 2.0}
    assert updated["name"] == "fast"
    assert http.get(f"/admin/models/{model_id}").json() == updated

    assert http.delete(f"/admin/models/{model_id}").json() == {"id": model_id, "deleted": True}
    assert http.get(f"/admin/models/{model_id}").status_code == 404
    assert runtime.changes == changes + 3


@pytest.mark.usefixtures("backends")
def test_references_are_checked(http: httpx.Client) -> None:
    cases = [
        (
            {"targets": [{"backend": "a", "model": "x"}, {"backend": "zz", "model": "x"}]},
            "targets[1].backend",
        ),
        ({"fallbacks": ["missing"]}, "fallbacks[0]"),
        ({"fallbacks": ["fast"]}, "fallbacks[0]"),
        ({"targets": []}, "targets"),
        ({"targets": [{"backend": "a", "model": "x", "weight": 0}]}, "targets[0].weight"),
        ({"strategy": "random"}, "strategy"),
        ({"guardrails": ["pii", "nope"]}, "guardrails[1]"),  # the runtime's config has "pii"
    ]
    for fields, param in cases:
        body = {"name": "fast", "targets": [{"backend": "a", "model": "m"}], **fields}
        response = http.post("/admin/models", json=body)
        assert response.status_code == 400, (fields, response.text)
        assert error_of(response)["param"] == param
    assert (
        "unknown backend 'zz'"
        in error_of(
            http.post(
                "/admin/models", json={"name": "x", "targets": [{"backend": "zz", "model": "m"}]}
            )
        )["message"]
    )
    model_id = new_model(http)["id"]
    response = http.put(
        f"/admin/models/{model_id}", json={"targets": [{"backend": "no", "model": "m"}]}
    )
    assert error_of(response)["param"] == "targets[0].backend"
    response = http.put(f"/admin/models/{model_id}", json={"guardrails": ["pii", "gone"]})
    assert error_of(response)["message"] == "guardrails[1]: unknown guardrail 'gone'"
    response = http.put(f"/admin/models/{model_id}", json={"guardrails": ["pii"]})
    assert response.status_code == 200 and response.json()["guardrails"] == ["pii"]


@pytest.mark.usefixtures("backends")
def test_fallback_targets_cannot_be_deleted_or_renamed(http: httpx.Client) -> None:
    base = new_model(http, name="base")
    top = new_model(http, name="top", fallbacks=["base"])
    assert top["fallbacks"] == ["base"]
    for response in (
        http.delete(f"/admin/models/{base['id']}"),
        http.put(f"/admin/models/{base['id']}", json={"name": "renamed"}),
    ):
        assert response.status_code == 409
        assert "'top'" in error_of(response)["message"]
    assert http.put(f"/admin/models/{top['id']}", json={"fallbacks": None}).status_code == 200
    assert http.delete(f"/admin/models/{base['id']}").status_code == 200


@pytest.mark.usefixtures("backends")
def test_duplicate_and_unknown(http: httpx.Client) -> None:
    new_model(http)
    again = http.post(
        "/admin/models", json={"name": "fast", "targets": [{"backend": "b", "model": "x"}]}
    )
    assert again.status_code == 409
    assert error_of(again)["code"] == "conflict"
    for method in ("GET", "PUT", "DELETE"):
        assert http.request(method, "/admin/models/nope", json={}).status_code == 404


@pytest.mark.usefixtures("backends")
def test_config_model_is_read_only(http: httpx.Client, server: AdminServer) -> None:
    values = model_values(ModelConfig(name="filed", targets=[{"backend": "a", "model": "m"}]))
    row = server.call(lambda: catalog.create_model(server.db, values, source="config"))
    assert http.get(f"/admin/models/{row['id']}").json()["source"] == "config"
    for response in (
        http.put(f"/admin/models/{row['id']}", json={"strategy": "round_robin"}),
        http.delete(f"/admin/models/{row['id']}"),
    ):
        assert response.status_code == 409
        assert error_of(response)["code"] == "read_only"
