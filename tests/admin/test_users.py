"""/admin/users, /admin/users/{id}/keys, /admin/keys/{id}: keys shown once, stored hashed."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update

from sluicegate.auth.keys import KEY_PREFIX, display_prefix, hash_key
from sluicegate.config.schema import UserConfig
from sluicegate.storage import catalog
from sluicegate.storage.config_sync import user_values
from sluicegate.storage.tables import metadata, users

from .harness import AdminServer, FakeRuntime, error_of


def new_user(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = http.post("/admin/users", json={"name": "ann", "models": ["fast"], **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def database_text(server: AdminServer) -> str:
    """Every value of every table, as one string: what a stolen database file would show."""

    async def dump() -> str:
        parts: list[str] = []
        async with server.db.read() as conn:
            for table in metadata.sorted_tables:
                for row in await conn.execute(select(table)):
                    parts.extend(repr(value) for value in row)
        return "\n".join(parts)

    return server.call(dump)


def test_create_returns_the_key_once_and_stores_only_its_hash(
    http: httpx.Client, server: AdminServer, runtime: FakeRuntime
) -> None:
    created = new_user(http, rpm=60, detail_logging=True)
    api_key = created["api_key"]
    assert api_key.startswith(KEY_PREFIX) and len(api_key) > 30
    assert created["name"] == "ann" and created["rpm"] == 60 and created["detail_logging"]
    assert created["source"] == "api"
    assert "api_keys" not in created
    [key] = created["keys"]
    assert key["prefix"] == display_prefix(api_key)
    assert set(key) == {
        "id",
        "user_id",
        "prefix",
        "source",
        "created_at",
        "last_used_at",
        "revoked_at",
    }
    assert runtime.changes == 1

    stored = server.call(lambda: catalog.list_keys(server.db, created["id"]))
    assert [row["key_hash"] for row in stored] == [hash_key(api_key).hex()]
    assert api_key not in database_text(server)
    assert display_prefix(api_key) in database_text(server)

    for response in (
        http.get(f"/admin/users/{created['id']}"),
        http.get("/admin/users"),
        http.get(f"/admin/users/{created['id']}/keys"),
    ):
        assert response.status_code == 200
        assert api_key not in response.text
        assert hash_key(api_key).hex() not in response.text
    shown = http.get(f"/admin/users/{created['id']}").json()
    assert shown == {k: v for k, v in created.items() if k != "api_key"}


def test_keys_given_in_api_keys_are_stored_hashed_too(
    http: httpx.Client, server: AdminServer
) -> None:
    chosen = "my-own-chosen-key-123"
    created = new_user(http, api_keys=[chosen, chosen])
    assert len(created["keys"]) == 2  # the chosen key (once) and the generated one
    assert chosen not in http.get("/admin/users").text
    assert chosen not in database_text(server)
    stored = server.call(lambda: catalog.list_keys(server.db))
    chosen_row = next(row for row in stored if row["key_hash"] == hash_key(chosen).hex())
    assert chosen_row["prefix"] == "my-o…"  # a chosen key shows at most 4 characters
    taken = http.post("/admin/users", json={"name": "bob", "api_keys": [chosen]})
    assert taken.status_code == 409
    assert chosen not in taken.text
    assert http.get("/admin/users").json()["data"][0]["name"] == "ann"  # bob not half-made
    empty = http.post("/admin/users", json={"name": "bob", "api_keys": ["ok", ""]})
    assert error_of(empty)["param"] == "api_keys[1]"


def test_add_list_and_revoke_keys(
    http: httpx.Client, server: AdminServer, runtime: FakeRuntime
) -> None:
    user = new_user(http)
    added = http.post(f"/admin/users/{user['id']}/keys")
    assert added.status_code == 201
    key = added.json()
    assert set(key) == {"id", "user_id", "api_key", "prefix", "created_at"}
    assert key["prefix"] == display_prefix(key["api_key"]) and key["user_id"] == user["id"]
    assert key["api_key"] != user["api_key"]
    assert key["api_key"] not in database_text(server)

    listed = http.get(f"/admin/users/{user['id']}/keys").json()["data"]
    assert [k["id"] for k in listed] == [user["keys"][0]["id"], key["id"]]
    assert all(k["revoked_at"] is None and "api_key" not in k for k in listed)

    revoked = http.delete(f"/admin/keys/{key['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    again = http.delete(f"/admin/keys/{key['id']}")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    listed = http.get(f"/admin/users/{user['id']}/keys").json()["data"]
    assert [k["revoked_at"] is not None for k in listed] == [False, True]
    assert runtime.changes == 3  # user, key, one revocation

    assert http.delete("/admin/keys/nope").status_code == 404
    assert http.post("/admin/users/nope/keys").status_code == 404
    assert http.get("/admin/users/nope/keys").status_code == 404


def test_update_is_partial_and_can_add_keys(http: httpx.Client, server: AdminServer) -> None:
    user = new_user(http, rpm=10, tpm=1000)
    response = http.put(
        f"/admin/users/{user['id']}", json={"rpm": None, "budget_usd": 5, "api_keys": ["k-extra"]}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["rpm"], updated["tpm"], updated["budget_usd"]) == (None, 1000, 5.0)
    assert updated["models"] == ["fast"]
    assert len(updated["keys"]) == 2
    assert "k-extra" not in response.text and "k-extra" not in database_text(server)
    same = http.put(f"/admin/users/{user['id']}", json={"api_keys": ["k-extra"]})
    assert len(same.json()["keys"]) == 2
    bad = http.put(f"/admin/users/{user['id']}", json={"budget_period": "year"})
    assert error_of(bad)["param"] == "budget_period"


def test_model_limits_round_trip(http: httpx.Client) -> None:
    user = new_user(http, model_limits={"fast": {"rpm": 5}})
    assert user["model_limits"] == {"fast": {"rpm": 5, "tpm": None}}
    changed = http.put(f"/admin/users/{user['id']}", json={"model_limits": {"m": {"tpm": 9}}})
    assert changed.json()["model_limits"] == {"m": {"rpm": None, "tpm": 9}}
    bad = http.put(f"/admin/users/{user['id']}", json={"model_limits": {"m": {"rpm": -1}}})
    assert error_of(bad)["param"] == "model_limits.m.rpm"


def test_delete_takes_keys_and_permissions_along(
    http: httpx.Client, server: AdminServer, runtime: FakeRuntime
) -> None:
    user = new_user(http)
    grant = http.post("/admin/permissions", json={"user_id": user["id"], "model": "gpt-*"})
    assert grant.status_code == 201
    assert http.delete(f"/admin/users/{user['id']}").json() == {"id": user["id"], "deleted": True}
    assert http.get(f"/admin/users/{user['id']}").status_code == 404
    assert server.call(lambda: catalog.list_keys(server.db)) == []
    assert http.get(f"/admin/permissions/{grant.json()['id']}").status_code == 404
    assert runtime.changes == 3  # user, grant, delete


def test_duplicate_name_is_a_409(http: httpx.Client) -> None:
    new_user(http)
    again = http.post("/admin/users", json={"name": "ann"})
    assert again.status_code == 409
    assert "'ann'" in error_of(again)["message"]
    other = new_user(http, name="ben")
    assert http.put(f"/admin/users/{other['id']}", json={"name": "ann"}).status_code == 409


def test_config_user_is_read_only_but_its_keys_can_be_managed(
    http: httpx.Client, server: AdminServer
) -> None:
    values = user_values(UserConfig(name="ci-bot", models=["*"]))

    async def insert() -> tuple[dict[str, Any], dict[str, Any]]:
        user = await catalog.create_user(server.db, values, source="config")
        key = await catalog.create_key(server.db, user["id"], "ab" * 32, "sk-file…", "config")
        return user, key

    user, key = server.call(insert)
    for response in (
        http.put(f"/admin/users/{user['id']}", json={"rpm": 1}),
        http.delete(f"/admin/users/{user['id']}"),
    ):
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "read_only" and "config file" in error["message"]
    # A leaked key must not wait for a file edit: revoking works, and so does adding one.
    assert http.delete(f"/admin/keys/{key['id']}").json()["revoked_at"] is not None
    assert http.post(f"/admin/users/{user['id']}/keys").status_code == 201


def test_a_null_column_reads_as_the_field_default(http: httpx.Client, server: AdminServer) -> None:
    user = new_user(http)

    async def null_limits() -> None:
        async with server.db.transaction() as conn:
            await conn.execute(update(users).values(model_limits=None))

    server.call(null_limits)  # a row from before the column existed
    assert http.get(f"/admin/users/{user['id']}").json()["model_limits"] == {}
    assert http.put(f"/admin/users/{user['id']}", json={"rpm": 3}).status_code == 200


def test_numbers_and_names_past_what_the_catalog_stores_are_400s(http: httpx.Client) -> None:
    """rpm/tpm are INTEGER columns (32-bit on PostgreSQL) and names VARCHAR(200): past them the
    database refused the write, a 500. 1e400 parses as infinity, which no response can encode."""
    cases: list[tuple[bytes, str]] = [
        (b'{"name": "u", "rpm": 2147483648}', "rpm"),
        (b'{"name": "u", "tpm": 123456789012345678901234567890123456789}', "tpm"),
        (b'{"name": "u", "model_limits": {"m": {"rpm": -1}}}', "model_limits.m.rpm"),
        (b'{"name": "u", "budget_usd": 1e400}', "budget_usd"),
        (b'{"name": "u", "budget_usd": NaN}', "budget_usd"),
        (b'{"name": "' + b"u" * 201 + b'"}', "name"),
        (b'{"name": "u", "api_keys": [""]}', "api_keys[0]"),
    ]
    for body, param in cases:
        response = http.post(
            "/admin/users", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (body, response.text)
        assert error_of(response)["param"] == param, body
    assert new_user(http, name="u" * 200, rpm=2**31 - 1)["rpm"] == 2**31 - 1
