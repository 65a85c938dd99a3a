"""Catalog repository: backends, models, users, API keys and permissions as plain dicts.

Every function takes a `Database` and returns rows as dicts keyed by column name (times are
aware UTC datetimes). `get_*`/`update_*` return None for an unknown id, `delete_*` returns
whether a row went away. Every change bumps `meta.catalog_version` in its own transaction so
other worker processes notice and reload; `touch_keys` is the exception (usage bookkeeping, not
a catalog change). Constraint violations raise `Conflict`, an unreachable database
`StorageUnavailable` (both from `storage.db`).

`sync_config` (writes the config file's entities) lives in `storage.config_sync` and is
re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, delete, or_, select, update

from sluicegate.storage import sqlite_rows
from sluicegate.storage import tables as t
from sluicegate.storage.config_sync import sync_config as sync_config
from sluicegate.storage.db import Database
from sluicegate.storage.rows import Row, as_dict, insert_row
from sluicegate.storage.version import bump_version_in, read_version

_NOT_WRITABLE = frozenset({"id", "created_at", "updated_at"})


def _checked(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = (set(data) - {c.name for c in table.c}) | (set(data) & _NOT_WRITABLE)
    if unknown:
        raise ValueError(f"{table.name}: not writable: {', '.join(sorted(unknown))}")
    return dict(data)


async def _list(db: Database, table: Table, *where: ColumnElement[bool]) -> list[Row]:
    order = table.c.name if "name" in table.c else table.c.created_at
    async with db.read() as conn:
        result = await conn.execute(select(table).where(*where).order_by(order, table.c.id))
        return [as_dict(row) for row in result]


async def _get(db: Database, table: Table, *where: ColumnElement[bool]) -> Row | None:
    async with db.read() as conn:
        row = (await conn.execute(select(table).where(*where))).first()
    return as_dict(row) if row is not None else None


async def _create(db: Database, table: Table, data: Mapping[str, Any], source: str) -> Row:
    values = _checked(table, {"source": source, **data} if "source" in table.c else data)
    async with db.transaction() as conn:
        row = await insert_row(conn, table, values)
        await bump_version_in(conn)
    return row


async def _update(db: Database, table: Table, id_: str, changes: Mapping[str, Any]) -> Row | None:
    values = _checked(table, changes)
    if "updated_at" in table.c:
        values["updated_at"] = t.utcnow()
    if not values:
        return await _get(db, table, table.c.id == id_)
    async with db.transaction() as conn:
        statement = update(table).where(table.c.id == id_).values(values).returning(*table.c)
        row = (await conn.execute(statement)).first()
        if row is None:
            return None
        await bump_version_in(conn)
    return as_dict(row)


async def _delete(db: Database, table: Table, id_: str) -> bool:
    async with db.transaction() as conn:
        deleted = (await conn.execute(delete(table).where(table.c.id == id_))).rowcount
        if deleted:
            await bump_version_in(conn)
    return bool(deleted)


# -- backends ------------------------------------------------------------------------------


async def list_backends(db: Database) -> list[Row]:
    return await _list(db, t.backends)


async def get_backend(db: Database, backend_id: str) -> Row | None:
    return await _get(db, t.backends, t.backends.c.id == backend_id)


async def create_backend(db: Database, data: Mapping[str, Any], *, source: str = "api") -> Row:
    return await _create(db, t.backends, data, source)


async def update_backend(db: Database, backend_id: str, changes: Mapping[str, Any]) -> Row | None:
    return await _update(db, t.backends, backend_id, changes)


async def delete_backend(db: Database, backend_id: str) -> bool:
    """Delete a backend; permissions granting it go with it."""
    return await _delete(db, t.backends, backend_id)


# -- models --------------------------------------------------------------------------------


async def list_models(db: Database) -> list[Row]:
    return await _list(db, t.models)


async def get_model(db: Database, model_id: str) -> Row | None:
    return await _get(db, t.models, t.models.c.id == model_id)


async def create_model(db: Database, data: Mapping[str, Any], *, source: str = "api") -> Row:
    return await _create(db, t.models, data, source)


async def update_model(db: Database, model_id: str, changes: Mapping[str, Any]) -> Row | None:
    return await _update(db, t.models, model_id, changes)


async def delete_model(db: Database, model_id: str) -> bool:
    return await _delete(db, t.models, model_id)


# -- users ---------------------------------------------------------------------------------


async def list_users(db: Database) -> list[Row]:
    return await _list(db, t.users)


async def get_user(db: Database, user_id: str) -> Row | None:
    return await _get(db, t.users, t.users.c.id == user_id)


async def create_user(db: Database, data: Mapping[str, Any], *, source: str = "api") -> Row:
    return await _create(db, t.users, data, source)


async def update_user(db: Database, user_id: str, changes: Mapping[str, Any]) -> Row | None:
    return await _update(db, t.users, user_id, changes)


async def delete_user(db: Database, user_id: str) -> bool:
    """Delete a user with all its keys and permissions."""
    return await _delete(db, t.users, user_id)


# -- api keys ------------------------------------------------------------------------------


async def list_keys(db: Database, user_id: str | None = None) -> list[Row]:
    """Keys, revoked ones included, oldest first; of one user when `user_id` is given."""
    where = [t.api_keys.c.user_id == user_id] if user_id is not None else []
    return await _list(db, t.api_keys, *where)


async def get_key(db: Database, key_id: str) -> Row | None:
    return await _get(db, t.api_keys, t.api_keys.c.id == key_id)


async def get_key_by_hash(db: Database, key_hash: str) -> Row | None:
    """The key with this hex SHA-256 digest, revoked or not."""
    return await _get(db, t.api_keys, t.api_keys.c.key_hash == key_hash)


async def create_key(
    db: Database, user_id: str, key_hash: str, prefix: str, source: str = "api"
) -> Row:
    """Store a new key of `user_id` by its hex SHA-256 digest and display prefix."""
    data = {"user_id": user_id, "key_hash": key_hash, "prefix": prefix}
    return await _create(db, t.api_keys, data, source)


async def revoke_key(db: Database, key_id: str) -> Row | None:
    """Mark a key revoked now (kept for the record); None when there is no such key."""
    keys = t.api_keys
    async with db.transaction() as conn:
        statement = (
            update(keys).where(keys.c.id == key_id).values(revoked_at=t.utcnow()).returning(*keys.c)
        )
        row = (await conn.execute(statement)).first()
        if row is None:
            return None
        await bump_version_in(conn)
    return as_dict(row)


async def delete_key(db: Database, key_id: str) -> bool:
    return await _delete(db, t.api_keys, key_id)


async def touch_keys(db: Database, last_used: Mapping[str, datetime]) -> None:
    """Record when keys were last used, in one batch; never moves a time backwards.

    Not a catalog change: no version bump, so busy keys do not make every worker reload.
    """
    if not last_used:
        return
    if db.sqlite_writer is not None:  # with the request log's batches (sqlite_thread.py)
        await db.sqlite_writer.run(partial(sqlite_rows.touch_keys, last_used))
        return
    keys = t.api_keys
    used = bindparam("b_used", type_=keys.c.last_used_at.type)
    statement = (
        update(keys)
        .where(keys.c.id == bindparam("b_id"))
        .where(or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < used))
        .values(last_used_at=used)
    )
    params = [{"b_id": key_id, "b_used": when} for key_id, when in last_used.items()]
    async with db.transaction() as conn:
        await conn.execute(statement, params)


# -- permissions ---------------------------------------------------------------------------


async def list_permissions(db: Database, user_id: str | None = None) -> list[Row]:
    where = [t.permissions.c.user_id == user_id] if user_id is not None else []
    return await _list(db, t.permissions, *where)


async def get_permission(db: Database, permission_id: str) -> Row | None:
    return await _get(db, t.permissions, t.permissions.c.id == permission_id)


async def create_permission(db: Database, data: Mapping[str, Any]) -> Row:
    """Grant `user_id` either a `backend_id` or a `model` glob (exactly one, else Conflict)."""
    return await _create(db, t.permissions, data, "api")


async def update_permission(
    db: Database, permission_id: str, changes: Mapping[str, Any]
) -> Row | None:
    return await _update(db, t.permissions, permission_id, changes)


async def delete_permission(db: Database, permission_id: str) -> bool:
    return await _delete(db, t.permissions, permission_id)


# -- whole catalog -------------------------------------------------------------------------


async def load_all(db: Database) -> dict[str, Any]:
    """Every backend, model, user, non-revoked key and permission from one snapshot.

    Returns `{"version", "backends", "models", "users", "keys", "permissions"}`; `version` is
    the catalog version this snapshot belongs to.
    """
    async with db.read(snapshot=True) as conn:
        version = await read_version(conn)
        out: dict[str, Any] = {"version": version}
        for name, table, where in (
            ("backends", t.backends, []),
            ("models", t.models, []),
            ("users", t.users, []),
            ("keys", t.api_keys, [t.api_keys.c.revoked_at.is_(None)]),
            ("permissions", t.permissions, []),
        ):
            result = await conn.execute(select(table).where(*where).order_by(table.c.id))
            out[name] = [as_dict(row) for row in result]
    return out


async def get_version(db: Database) -> int:
    """The catalog version: compare with the one `load_all` returned to know when to reload."""
    async with db.read() as conn:
        return await read_version(conn)


async def bump_version(db: Database) -> int:
    """Force other workers to reload (after a change made outside this module)."""
    async with db.transaction() as conn:
        return await bump_version_in(conn)
