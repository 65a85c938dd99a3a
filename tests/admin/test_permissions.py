"""/admin/permissions: backend grants and model-glob grants, exactly one of the two."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .harness import FakeRuntime, error_of


@pytest.fixture
def ids(http: httpx.Client) -> dict[str, Any]:
    user = http.post("/admin/users", json={"name": "ann"}).json()
    other = http.post("/admin/users", json={"name": "ben"}).json()
    backend = http.post("/admin/backends", json={"name": "vllm", "type": "demo"}).json()
    return {"user": user["id"], "other": other["id"], "backend": backend["id"]}


def test_crud_round_trip(http: httpx.Client, ids: dict[str, Any], runtime: FakeRuntime) -> None:
    changes = runtime.changes
    by_backend = http.post(
        "/admin/permissions", json={"user_id": ids["user"], "backend_id": ids["backend"]}
    )
    assert by_backend.status_code == 201, by_backend.text
    grant = by_backend.json()
    assert (grant["user_id"], grant["backend_id"], grant["model"]) == (
        ids["user"],
        ids["backend"],
        None,
    )
    by_glob = http.post("/admin/permissions", json={"user_id": ids["other"], "model": "gpt-4o*"})
    assert by_glob.json()["model"] == "gpt-4o*"

    assert http.get(f"/admin/permissions/{grant['id']}").json() == grant
    assert len(http.get("/admin/permissions").json()["data"]) == 2
    mine = http.get("/admin/permissions", params={"user_id": ids["user"]}).json()["data"]
    assert [p["id"] for p in mine] == [grant["id"]]

    switched = http.put(
        f"/admin/permissions/{grant['id']}", json={"backend_id": None, "model": "claude-*"}
    )
    assert switched.status_code == 200, switched.text
    assert (switched.json()["backend_id"], switched.json()["model"]) == (None, "claude-*")
    moved = http.put(f"/admin/permissions/{grant['id']}", json={"user_id": ids["other"]})
    assert moved.json()["user_id"] == ids["other"] and moved.json()["model"] == "claude-*"

    assert http.delete(f"/admin/permissions/{grant['id']}").json() == {
        "id": grant["id"],
        "deleted": True,
    }
    assert http.get(f"/admin/permissions/{grant['id']}").status_code == 404
    assert runtime.changes == changes + 5


def test_invalid_grants_are_400s(http: httpx.Client, ids: dict[str, Any]) -> None:
    cases = [
        ({"user_id": ids["user"]}, "model"),
        ({"user_id": ids["user"], "backend_id": ids["backend"], "model": "x"}, "backend_id"),
        ({"user_id": "nobody", "model": "x"}, "user_id"),
        ({"user_id": ids["user"], "backend_id": "nothing"}, "backend_id"),
        ({"model": "x"}, "user_id"),
        ({"user_id": ids["user"], "model": ""}, "model"),
        ({"user_id": ids["user"], "model": "x", "extra": 1}, "extra"),
    ]
    for body, param in cases:
        response = http.post("/admin/permissions", json=body)
        assert response.status_code == 400, (body, response.text)
        error = error_of(response)
        assert (error["code"], error["param"]) == ("invalid_request", param), body
    grant = http.post("/admin/permissions", json={"user_id": ids["user"], "model": "x"}).json()
    both = http.put(f"/admin/permissions/{grant['id']}", json={"backend_id": ids["backend"]})
    assert error_of(both)["param"] == "backend_id"
    nobody = http.put(f"/admin/permissions/{grant['id']}", json={"user_id": None})
    assert error_of(nobody)["param"] == "user_id"


def test_deleting_the_backend_removes_its_grants(http: httpx.Client, ids: dict[str, Any]) -> None:
    grant = http.post(
        "/admin/permissions", json={"user_id": ids["user"], "backend_id": ids["backend"]}
    ).json()
    assert http.delete(f"/admin/backends/{ids['backend']}").status_code == 200
    assert http.get(f"/admin/permissions/{grant['id']}").status_code == 404


def test_unknown_id_is_a_404(http: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = http.request(method, "/admin/permissions/nope", json={"model": "x"})
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
