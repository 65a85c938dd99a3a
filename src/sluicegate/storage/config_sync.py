"""Config sync: make the config file's backends, models, users and keys the `source='config'` rows.

    for each of backends, models, users (matched by name):
        in file, not in db          -> insert (source='config')
        in file and in db           -> update when any field differs; an API-created row of
                                       the same name is adopted (source becomes 'config',
                                       id kept so its keys and permissions stay)
        source='config', not in file -> delete (cascades to that user's keys and permissions)
        source='api'                -> never touched
    keys (matched by hash): a config key is inserted for its user, moved when the file gives
        it to another user, deleted when no longer listed; revocations are kept

Idempotent: a second run with the same file changes nothing and does not bump the version.
Safe when several processes run it at once: the transaction first takes the catalog lock
(`version.lock_catalog`), so the later runs wait, then see the first one's rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sluicegate.config.schema import BackendConfig, ModelConfig, UserConfig
from sluicegate.storage import tables as t
from sluicegate.storage.db import Database
from sluicegate.storage.rows import insert_row
from sluicegate.storage.version import bump_version_in, lock_catalog

CONFIG = "config"

# (user from the file, [(hex sha256 of each of its keys, display prefix)])
UserWithKeys = tuple[UserConfig, Sequence[tuple[str, str]]]


def _settable(table: Table) -> set[str]:
    return {column.name for column in table.c} - {"id", "source", "created_at", "updated_at"}


def backend_values(backend: BackendConfig) -> dict[str, Any]:
    """The `backends` columns a config entry sets."""
    return backend.model_dump(include=_settable(t.backends))


def model_values(model: ModelConfig) -> dict[str, Any]:
    """The `models` columns a config entry sets (pricing flattened)."""
    return {
        "name": model.name,
        "targets": [target.model_dump() for target in model.targets],
        "strategy": model.strategy,
        "fallbacks": list(model.fallbacks),
        "input_per_mtok": model.pricing.input_per_mtok,
        "output_per_mtok": model.pricing.output_per_mtok,
        "guardrails": None if model.guardrails is None else list(model.guardrails),
        "stream_resume_attempts": model.stream_resume_attempts,
    }


def user_values(user: UserConfig) -> dict[str, Any]:
    """The `users` columns a config entry sets (its keys go to `api_keys`)."""
    return user.model_dump(include=_settable(t.users))


async def sync_config(
    db: Database,
    backends: Sequence[BackendConfig],
    models: Sequence[ModelConfig],
    users: Sequence[UserWithKeys],
) -> bool:
    """Write the config file's entities; returns whether anything changed (and was bumped)."""
    async with db.transaction() as conn:
        await lock_catalog(conn)
        changed = await _sync_named(conn, t.backends, [backend_values(b) for b in backends])
        changed |= await _sync_named(conn, t.models, [model_values(m) for m in models])
        changed |= await _sync_named(conn, t.users, [user_values(u) for u, _ in users])
        changed |= await _sync_keys(conn, {u.name: keys for u, keys in users})
        if changed:
            await bump_version_in(conn)
    return changed


def _readable_id(values: Mapping[str, Any]) -> dict[str, str]:
    """A config entity's id is its name when that fits the id column: `user_id` in the log
    reads `ci-bot`, and stays the same across databases and restarts."""
    name = str(values["name"])
    return {"id": name} if len(name) <= 32 and _ID_SAFE.fullmatch(name) else {}


_ID_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")


async def _sync_named(conn: AsyncConnection, table: Table, wanted: list[dict[str, Any]]) -> bool:
    existing = {row.name: row._mapping for row in await conn.execute(select(table))}
    changed = False
    for values in wanted:
        row = existing.get(values["name"])
        if row is None:
            await insert_row(conn, table, {**values, "source": CONFIG, **_readable_id(values)})
            changed = True
        elif row["source"] != CONFIG or _differs(row, values):
            await conn.execute(
                update(table)
                .where(table.c.id == row["id"])
                .values(**values, source=CONFIG, updated_at=t.utcnow())
            )
            changed = True
    names = {values["name"] for values in wanted}
    gone = [
        row["id"] for name, row in existing.items() if row["source"] == CONFIG and name not in names
    ]
    if gone:
        await conn.execute(delete(table).where(table.c.id.in_(gone)))
        changed = True
    return changed


async def _sync_keys(
    conn: AsyncConnection, keys_by_user: Mapping[str, Sequence[tuple[str, str]]]
) -> bool:
    keys = t.api_keys
    user_ids = dict((await conn.execute(select(t.users.c.name, t.users.c.id))).tuples().all())
    wanted = {
        key_hash: (user_ids[name], prefix)
        for name, pairs in keys_by_user.items()
        for key_hash, prefix in pairs
    }
    existing = {row.key_hash: row._mapping for row in await conn.execute(select(keys))}
    changed = False
    for key_hash, (user_id, prefix) in wanted.items():
        row = existing.get(key_hash)
        if row is None:
            values = {"user_id": user_id, "key_hash": key_hash, "prefix": prefix}
            await insert_row(conn, keys, {**values, "source": CONFIG})
            changed = True
        elif (row["user_id"], row["prefix"], row["source"]) != (user_id, prefix, CONFIG):
            await conn.execute(
                update(keys)
                .where(keys.c.id == row["id"])
                .values(user_id=user_id, prefix=prefix, source=CONFIG)
            )
            changed = True
    gone = [
        row["id"]
        for key_hash, row in existing.items()
        if row["source"] == CONFIG and key_hash not in wanted
    ]
    if gone:
        await conn.execute(delete(keys).where(keys.c.id.in_(gone)))
        changed = True
    return changed


def _differs(row: Mapping[Any, Any], values: Mapping[str, Any]) -> bool:
    return any(row[column] != value for column, value in values.items())
