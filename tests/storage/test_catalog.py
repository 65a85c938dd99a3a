from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluicegate.storage import catalog
from sluicegate.storage.db import Conflict, Database

pytestmark = pytest.mark.anyio

BACKEND: dict[str, Any] = {
    "name": "openai-main",
    "type": "openai",
    "base_url": "https://api.example/v1",
    "api_key": "sk-upstream",
    "headers": {"x-team": "a"},
    "timeouts": {"connect": 5.0, "first_token": 60.0, "idle": 60.0, "total": 600.0},
    "max_retries": 3,
    "cooldown": {"failures": 3, "seconds": 30.0},
    "models": ["gpt-4o"],
}
MODEL: dict[str, Any] = {
    "name": "gpt",
    "targets": [{"backend": "openai-main", "model": "gpt-4o", "weight": 1.0}],
    "strategy": "round_robin",
    "fallbacks": ["other"],
    "input_per_mtok": 2.5,
    "output_per_mtok": 10.0,
}
USER: dict[str, Any] = {
    "name": "alice",
    "models": ["gpt*"],
    "rpm": 60,
    "tpm": None,
    "budget_usd": 12.5,
    "budget_period": "week",
    "detail_logging": True,
    "copy_reasoning_to_reasoning_content": False,
}


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def subset(row: dict[str, Any] | None, expected: dict[str, Any]) -> dict[str, Any]:
    assert row is not None
    return {name: row[name] for name in expected}


async def test_backend_round_trip(db: Database) -> None:
    created = await catalog.create_backend(db, BACKEND)
    assert subset(created, BACKEND) == BACKEND
    assert created["source"] == "api" and created["responses"] == "translate"
    assert created["created_at"].tzinfo is UTC and len(created["id"]) == 32
    assert await catalog.get_backend(db, created["id"]) == created
    assert await catalog.list_backends(db) == [created]

    updated = await catalog.update_backend(db, created["id"], {"max_retries": 0, "headers": {}})
    assert updated is not None
    assert (updated["max_retries"], updated["headers"], updated["name"]) == (0, {}, BACKEND["name"])
    assert updated["updated_at"] >= created["updated_at"]
    assert updated["created_at"] == created["created_at"]

    assert await catalog.delete_backend(db, created["id"]) is True
    assert await catalog.get_backend(db, created["id"]) is None
    assert await catalog.delete_backend(db, created["id"]) is False
    assert await catalog.update_backend(db, created["id"], {"max_retries": 1}) is None


async def test_model_round_trip(db: Database) -> None:
    created = await catalog.create_model(db, MODEL)
    assert subset(created, MODEL) == MODEL
    assert await catalog.get_model(db, created["id"]) == created
    updated = await catalog.update_model(db, created["id"], {"targets": [], "strategy": "weighted"})
    assert updated is not None and (updated["targets"], updated["strategy"]) == ([], "weighted")
    assert await catalog.list_models(db) == [updated]
    assert await catalog.delete_model(db, created["id"]) is True
    assert await catalog.list_models(db) == []


async def test_user_round_trip_and_list_order(db: Database) -> None:
    alice = await catalog.create_user(db, USER)
    assert subset(alice, USER) == USER
    bob = await catalog.create_user(db, {"name": "bob"})
    assert (bob["models"], bob["rpm"], bob["budget_period"], bob["detail_logging"]) == (
        [],
        None,
        "month",
        False,
    )
    assert [u["name"] for u in await catalog.list_users(db)] == ["alice", "bob"]
    updated = await catalog.update_user(db, alice["id"], {"rpm": None, "detail_logging": False})
    assert updated is not None and (updated["rpm"], updated["detail_logging"]) == (None, False)
    assert await catalog.get_user(db, alice["id"]) == updated


async def test_keys_create_revoke_touch_and_lookup(db: Database) -> None:
    user = await catalog.create_user(db, {"name": "alice"})
    key = await catalog.create_key(db, user["id"], key_hash("k1"), "sk-sg-abcd…")
    assert (key["user_id"], key["prefix"], key["source"]) == (user["id"], "sk-sg-abcd…", "api")
    assert key["revoked_at"] is None and key["last_used_at"] is None
    assert await catalog.get_key_by_hash(db, key_hash("k1")) == key
    assert await catalog.get_key(db, key["id"]) == key

    used = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    await catalog.touch_keys(db, {key["id"]: used, "no-such-key": used})
    await catalog.touch_keys(db, {key["id"]: used - timedelta(hours=1)})  # never backwards
    version = await catalog.get_version(db)
    touched = await catalog.get_key(db, key["id"])
    assert touched is not None and touched["last_used_at"] == used
    assert await catalog.get_version(db) == version  # touching is not a catalog change

    revoked = await catalog.revoke_key(db, key["id"])
    assert revoked is not None and revoked["revoked_at"] is not None
    assert await catalog.revoke_key(db, "no-such-key") is None
    assert await catalog.list_keys(db, user["id"]) == [revoked]
    assert (await catalog.load_all(db))["keys"] == []
    assert await catalog.delete_key(db, key["id"]) is True
    assert await catalog.list_keys(db) == []


async def test_permissions_need_exactly_one_of_backend_and_model(db: Database) -> None:
    user = await catalog.create_user(db, {"name": "alice"})
    backend = await catalog.create_backend(db, BACKEND)
    by_backend = await catalog.create_permission(
        db, {"user_id": user["id"], "backend_id": backend["id"]}
    )
    by_model = await catalog.create_permission(db, {"user_id": user["id"], "model": "gpt-4o*"})
    assert (by_backend["model"], by_model["backend_id"]) == (None, None)
    assert await catalog.get_permission(db, by_model["id"]) == by_model
    assert {p["id"] for p in await catalog.list_permissions(db, user["id"])} == {
        by_backend["id"],
        by_model["id"],
    }
    with pytest.raises(Conflict):
        await catalog.create_permission(db, {"user_id": user["id"]})
    with pytest.raises(Conflict):
        await catalog.create_permission(
            db, {"user_id": user["id"], "backend_id": backend["id"], "model": "x"}
        )
    with pytest.raises(Conflict):  # foreign key to a missing user
        await catalog.create_permission(db, {"user_id": "nobody", "model": "x"})
    updated = await catalog.update_permission(db, by_model["id"], {"model": "claude*"})
    assert updated is not None and updated["model"] == "claude*"

    # Deleting the backend takes the permission that granted it.
    assert await catalog.delete_backend(db, backend["id"]) is True
    assert [p["id"] for p in await catalog.list_permissions(db)] == [by_model["id"]]
    assert await catalog.delete_permission(db, by_model["id"]) is True


async def test_deleting_a_user_cascades_to_keys_and_permissions(db: Database) -> None:
    alice = await catalog.create_user(db, {"name": "alice"})
    bob = await catalog.create_user(db, {"name": "bob"})
    await catalog.create_key(db, alice["id"], key_hash("a"), "a")
    await catalog.create_permission(db, {"user_id": alice["id"], "model": "*"})
    bob_key = await catalog.create_key(db, bob["id"], key_hash("b"), "b")
    assert await catalog.delete_user(db, alice["id"]) is True
    assert await catalog.list_keys(db) == [bob_key]
    assert await catalog.list_permissions(db) == []


async def test_duplicate_names_and_key_hashes_conflict(db: Database) -> None:
    await catalog.create_backend(db, BACKEND)
    with pytest.raises(Conflict):
        await catalog.create_backend(db, BACKEND)
    await catalog.create_model(db, MODEL)
    with pytest.raises(Conflict):
        await catalog.create_model(db, MODEL)
    alice = await catalog.create_user(db, {"name": "alice"})
    bob = await catalog.create_user(db, {"name": "bob"})
    with pytest.raises(Conflict):
        await catalog.create_user(db, {"name": "alice"})
    with pytest.raises(Conflict):
        await catalog.update_user(db, bob["id"], {"name": "alice"})
    await catalog.create_key(db, alice["id"], key_hash("k"), "k")
    with pytest.raises(Conflict):
        await catalog.create_key(db, bob["id"], key_hash("k"), "k")
    with pytest.raises(Conflict):
        await catalog.create_key(db, "no-such-user", key_hash("other"), "o")


async def test_unknown_or_fixed_columns_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="colour"):
        await catalog.create_user(db, {"name": "alice", "colour": "red"})
    user = await catalog.create_user(db, {"name": "alice"})
    with pytest.raises(ValueError, match="id"):
        await catalog.update_user(db, user["id"], {"id": "x"})


async def test_every_change_bumps_the_version(db: Database) -> None:
    seen = [await catalog.get_version(db)]

    async def bumped() -> None:
        seen.append(await catalog.get_version(db))
        assert seen[-1] == seen[-2] + 1, seen

    backend = await catalog.create_backend(db, BACKEND)
    await bumped()
    await catalog.update_backend(db, backend["id"], {"max_retries": 1})
    await bumped()
    model = await catalog.create_model(db, MODEL)
    await bumped()
    await catalog.update_model(db, model["id"], {"strategy": "weighted"})
    await bumped()
    await catalog.delete_model(db, model["id"])
    await bumped()
    user = await catalog.create_user(db, {"name": "alice"})
    await bumped()
    await catalog.update_user(db, user["id"], {"rpm": 5})
    await bumped()
    key = await catalog.create_key(db, user["id"], key_hash("k"), "k")
    await bumped()
    await catalog.revoke_key(db, key["id"])
    await bumped()
    await catalog.delete_key(db, key["id"])
    await bumped()
    permission = await catalog.create_permission(db, {"user_id": user["id"], "model": "*"})
    await bumped()
    await catalog.update_permission(db, permission["id"], {"model": "g*"})
    await bumped()
    await catalog.delete_permission(db, permission["id"])
    await bumped()
    await catalog.delete_backend(db, backend["id"])
    await bumped()
    await catalog.delete_user(db, user["id"])
    await bumped()
    assert await catalog.bump_version(db) == seen[-1] + 1
    await bumped()

    # Failed or empty changes do not bump.
    assert await catalog.delete_user(db, "no-such-user") is False
    assert await catalog.update_user(db, "no-such-user", {"rpm": 1}) is None
    with pytest.raises(Conflict):
        await catalog.create_key(db, "no-such-user", key_hash("x"), "x")
    assert await catalog.get_version(db) == seen[-1]


async def test_load_all_returns_the_whole_catalog_with_its_version(db: Database) -> None:
    backend = await catalog.create_backend(db, BACKEND)
    model = await catalog.create_model(db, MODEL)
    user = await catalog.create_user(db, USER)
    live = await catalog.create_key(db, user["id"], key_hash("live"), "l")
    dead = await catalog.create_key(db, user["id"], key_hash("dead"), "d")
    await catalog.revoke_key(db, dead["id"])
    permission = await catalog.create_permission(
        db, {"user_id": user["id"], "backend_id": backend["id"]}
    )
    snapshot = await catalog.load_all(db)
    assert snapshot == {
        "version": await catalog.get_version(db),
        "backends": [backend],
        "models": [model],
        "users": [user],
        "keys": [live],
        "permissions": [permission],
    }
