from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from sluicegate.config.schema import GatewayConfig
from sluicegate.storage import catalog
from sluicegate.storage.config_sync import UserWithKeys
from sluicegate.storage.db import Database

pytestmark = pytest.mark.anyio


def config(**overrides: Any) -> GatewayConfig:
    data: dict[str, Any] = {
        "backends": [
            {"name": "main", "type": "openai", "api_key": "sk-up", "max_retries": 1},
            {"name": "spare", "type": "demo"},
        ],
        "models": [
            {
                "name": "m",
                "targets": [{"backend": "main", "model": "gpt-4o"}],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            }
        ],
        "users": [
            {"name": "alice", "api_keys": ["sk-alice-1", "sk-alice-2"], "models": ["*"]},
            {"name": "bob", "api_keys": ["sk-bob"], "rpm": 10},
        ],
    }
    data.update(overrides)
    return GatewayConfig.model_validate(data)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def users_with_keys(cfg: GatewayConfig) -> list[UserWithKeys]:
    return [(user, [(digest(k), k[:8]) for k in user.api_keys]) for user in cfg.users]


async def sync(db: Database, cfg: GatewayConfig) -> bool:
    return await catalog.sync_config(db, cfg.backends, cfg.models, users_with_keys(cfg))


def key_owners(snapshot: dict[str, Any]) -> dict[str, str]:
    """key hash -> user name"""
    names = {user["id"]: user["name"] for user in snapshot["users"]}
    return {key["key_hash"]: names[key["user_id"]] for key in snapshot["keys"]}


async def test_sync_writes_config_entities(db: Database) -> None:
    assert await sync(db, config()) is True
    snapshot = await catalog.load_all(db)
    assert snapshot["version"] == 1
    main = next(b for b in snapshot["backends"] if b["name"] == "main")
    assert (main["source"], main["api_key"], main["max_retries"]) == ("config", "sk-up", 1)
    assert main["timeouts"] == {"connect": 5.0, "first_token": 60.0, "idle": 60.0, "total": 600.0}
    (model,) = snapshot["models"]
    assert model["targets"] == [{"backend": "main", "model": "gpt-4o", "weight": 1.0}]
    assert (model["input_per_mtok"], model["output_per_mtok"]) == (1.0, 2.0)
    assert {u["name"]: u["rpm"] for u in snapshot["users"]} == {"alice": None, "bob": 10}
    assert key_owners(snapshot) == {
        digest("sk-alice-1"): "alice",
        digest("sk-alice-2"): "alice",
        digest("sk-bob"): "bob",
    }
    assert {(key["source"], key["prefix"]) for key in snapshot["keys"]} == {
        ("config", "sk-alice"),
        ("config", "sk-bob"),
    }


async def test_sync_is_idempotent(db: Database) -> None:
    assert await sync(db, config()) is True
    before = await catalog.load_all(db)
    assert await sync(db, config()) is False
    assert await catalog.load_all(db) == before


async def test_removed_config_entities_go_and_api_ones_stay(db: Database) -> None:
    await sync(db, config())
    api_backend = await catalog.create_backend(db, {"name": "api-made", "type": "demo"})
    api_user = await catalog.create_user(db, {"name": "carol"})
    bob = next(u for u in await catalog.list_users(db) if u["name"] == "bob")
    bob_api_key = await catalog.create_key(db, bob["id"], "ab" * 32, "sk-api")
    alice = next(u for u in await catalog.list_users(db) if u["name"] == "alice")
    await catalog.create_permission(db, {"user_id": alice["id"], "model": "*"})

    smaller = config(
        backends=[{"name": "main", "type": "openai", "api_key": "sk-up", "max_retries": 1}],
        users=[{"name": "bob", "api_keys": [], "rpm": 20}],
    )
    version = await catalog.get_version(db)
    assert await sync(db, smaller) is True
    assert await catalog.get_version(db) == version + 1
    snapshot = await catalog.load_all(db)
    assert {b["name"] for b in snapshot["backends"]} == {"main", "api-made"}
    assert {u["name"]: u["rpm"] for u in snapshot["users"]} == {"bob": 20, "carol": None}
    assert snapshot["keys"] == [bob_api_key]  # bob's config key went, his API key stayed
    assert snapshot["permissions"] == []  # alice's went with her
    assert api_user in snapshot["users"] and api_backend in snapshot["backends"]


async def test_changed_fields_are_updated_in_place(db: Database) -> None:
    await sync(db, config())
    before = {u["name"]: u for u in await catalog.list_users(db)}
    changed = config(users=[{"name": "alice", "api_keys": ["sk-alice-1"], "models": ["m"]}])
    assert await sync(db, changed) is True
    after = {u["name"]: u for u in await catalog.list_users(db)}
    assert set(after) == {"alice"}
    assert after["alice"]["id"] == before["alice"]["id"]
    assert after["alice"]["models"] == ["m"]
    assert [k["prefix"] for k in await catalog.list_keys(db)] == ["sk-alice"]


async def test_api_row_with_a_config_name_is_adopted(db: Database) -> None:
    api_user = await catalog.create_user(db, {"name": "alice", "rpm": 1})
    permission = await catalog.create_permission(db, {"user_id": api_user["id"], "model": "*"})
    await sync(db, config())
    alice = next(u for u in await catalog.list_users(db) if u["name"] == "alice")
    assert (alice["id"], alice["source"], alice["rpm"]) == (api_user["id"], "config", None)
    assert await catalog.list_permissions(db) == [permission]


async def test_a_key_moved_to_another_user_follows(db: Database) -> None:
    await sync(db, config())
    moved = config(
        users=[
            {"name": "alice", "api_keys": ["sk-alice-1"]},
            {"name": "bob", "api_keys": ["sk-bob", "sk-alice-2"]},
        ]
    )
    assert await sync(db, moved) is True
    assert key_owners(await catalog.load_all(db)) == {
        digest("sk-alice-1"): "alice",
        digest("sk-alice-2"): "bob",
        digest("sk-bob"): "bob",
    }


async def test_revoked_config_key_stays_revoked(db: Database) -> None:
    await sync(db, config())
    bob_key = next(k for k in await catalog.list_keys(db) if k["prefix"] == "sk-bob")
    await catalog.revoke_key(db, bob_key["id"])
    assert await sync(db, config()) is False
    key = await catalog.get_key(db, bob_key["id"])
    assert key is not None and key["revoked_at"] is not None


async def test_concurrent_syncs_from_separate_engines(db_url: str, db: Database) -> None:
    others = [Database(db_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(sync(other, config()) for other in [db, *others]))
    finally:
        for other in others:
            await other.close()
    assert sorted(results) == [False, False, False, True]
    assert await catalog.get_version(db) == 1
    assert len((await catalog.load_all(db))["keys"]) == 3
