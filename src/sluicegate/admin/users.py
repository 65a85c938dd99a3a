"""/admin/users and /admin/users/{id}/keys: users, and API keys shown once and stored hashed.

Creating a user also creates its first key; the user and its keys are written in one
transaction, so a failure never leaves a user without the key its creator was shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from sqlalchemy import update

from ..auth.keys import KEY_PREFIX, display_prefix, generate_key, hash_key
from ..config.schema import UserConfig
from ..errors import Conflict, InvalidRequest
from ..storage import catalog
from ..storage import tables as t
from ..storage.config_sync import user_values
from ..storage.db import Conflict as StorageConflict
from ..storage.db import Database
from ..storage.rows import as_dict, insert_row
from ..storage.version import bump_version_in
from .crud import (
    Row,
    changed,
    deleted,
    found,
    refuse_unstorable,
    stored_fields,
    validated,
    writable,
)
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import (
    DataList,
    Deleted,
    KeyCreated,
    KeyOut,
    UserCreated,
    UserOut,
    UserUpdate,
    errors,
    merge,
)

router = APIRouter(prefix="/admin/users", tags=["users"], route_class=AdminRoute)

# (hex sha256, display prefix) of a key to store
KeyHash = tuple[str, str]


def key_view(row: Row) -> dict[str, Any]:
    """A stored key without its hash."""
    return {name: row.get(name) for name in KeyOut.model_fields}


def present(row: Row, keys: Sequence[Row]) -> dict[str, Any]:
    extra = {name: value for name, value in row.items() if name not in UserConfig.model_fields}
    return {**extra, **stored_fields(row, UserConfig), "keys": [key_view(key) for key in keys]}


def shown_prefix(key: str) -> str:
    """The prefix listings show. `display_prefix` suits generated keys (a fixed `sk-sg-` and
    192 random bits); of a short key a caller chose it would show most of the key, so those
    show at most a quarter of it, and no more than four characters."""
    if key.startswith(KEY_PREFIX) and len(key) >= len(KEY_PREFIX) + 16:
        return display_prefix(key)
    return key[: min(4, len(key) // 4)] + "…"


def hashed(keys: Sequence[str]) -> list[KeyHash]:
    """The keys of an `api_keys` list as stored: digests and prefixes, duplicates dropped."""
    out: dict[str, str] = {}
    for i, key in enumerate(keys):
        if not key:
            raise InvalidRequest(f"api_keys[{i}]: empty key", param=f"api_keys[{i}]")
        out.setdefault(hash_key(key).hex(), shown_prefix(key))
    return list(out.items())


async def write_user(
    db: Database, user_id: str | None, values: dict[str, Any], keys: Sequence[KeyHash]
) -> tuple[Row | None, list[Row]]:
    """Insert (`user_id` None) or update a user and add `keys`, in one transaction."""
    async with db.transaction() as conn:
        if user_id is None:
            user: Row | None = await insert_row(conn, t.users, {**values, "source": "api"})
        else:
            statement = (
                update(t.users)
                .where(t.users.c.id == user_id)
                .values(**values, updated_at=t.utcnow())
                .returning(*t.users.c)
            )
            found_row = (await conn.execute(statement)).first()
            user = as_dict(found_row) if found_row is not None else None
        if user is None:
            return None, []
        added = [
            await insert_row(
                conn,
                t.api_keys,
                {"user_id": user["id"], "key_hash": digest, "prefix": prefix, "source": "api"},
            )
            for digest, prefix in keys
        ]
        await bump_version_in(conn)
    return user, added


async def conflict(db: Database, name: str, user_id: str | None) -> Conflict:
    """Which unique rule a failed user write broke: the name, else one of the keys."""
    if any(row["name"] == name and row["id"] != user_id for row in await catalog.list_users(db)):
        return Conflict(f"A user named '{name}' already exists.")
    return Conflict("A key in api_keys is already in use.")


@router.get("", response_model=DataList[UserOut], summary="List users")
async def list_users(runtime: Runtime) -> dict[str, Any]:
    users = await catalog.list_users(runtime.db)
    keys: dict[str, list[Row]] = defaultdict(list)
    for key in await catalog.list_keys(runtime.db):
        keys[key["user_id"]].append(key)
    return {"data": [present(user, keys[user["id"]]) for user in users]}


@router.post(
    "",
    status_code=201,
    response_model=UserCreated,
    summary="Create a user",
    responses=errors(409),
)
async def create_user(body: UserConfig, runtime: Runtime) -> dict[str, Any]:
    """Takes the fields of a `users:` entry of the config file and creates one API key,
    returned as `api_key` in this response only. Keys given in `api_keys` are stored too."""
    refuse_unstorable(t.users, body, UserConfig, handled=["api_keys"])
    keys = hashed(body.api_keys)
    api_key = generate_key()
    generated = (hash_key(api_key).hex(), display_prefix(api_key))
    try:
        user, added = await write_user(runtime.db, None, user_values(body), [*keys, generated])
    except StorageConflict as exc:
        raise await conflict(runtime.db, body.name, None) from exc
    assert user is not None
    await changed(runtime)
    return {**present(user, added), "api_key": api_key}


@router.get("/{user_id}", response_model=UserOut, summary="Get a user", responses=errors(404))
async def get_user(user_id: str, runtime: Runtime) -> dict[str, Any]:
    user = found(await catalog.get_user(runtime.db, user_id), "user", user_id)
    return present(user, await catalog.list_keys(runtime.db, user_id))


@router.put(
    "/{user_id}",
    response_model=UserOut,
    summary="Update a user",
    responses=errors(404, 409),
)
async def update_user(user_id: str, body: UserUpdate, runtime: Runtime) -> dict[str, Any]:
    """Partial: omitted fields keep their value. Keys in `api_keys` are added (stored hashed);
    keys the user already has are left alone."""
    db = runtime.db
    row = found(await catalog.get_user(db, user_id), "user", user_id)
    writable(row, "user")
    changes = body.model_dump(exclude_unset=True)
    user = validated(UserConfig, merge(UserConfig, stored_fields(row, UserConfig), changes))
    refuse_unstorable(t.users, body, UserConfig, handled=["api_keys"])
    have = {key["key_hash"] for key in await catalog.list_keys(db, user_id)}
    keys = [key for key in hashed(user.api_keys) if key[0] not in have]
    try:
        updated, _ = await write_user(db, user_id, user_values(user), keys)
    except StorageConflict as exc:
        raise await conflict(db, user.name, user_id) from exc
    updated = found(updated, "user", user_id)
    await changed(runtime)
    return present(updated, await catalog.list_keys(db, user_id))


@router.delete(
    "/{user_id}",
    response_model=Deleted,
    summary="Delete a user",
    responses=errors(404, 409),
)
async def delete_user(user_id: str, runtime: Runtime) -> dict[str, Any]:
    """Also deletes the user's keys and permissions."""
    row = found(await catalog.get_user(runtime.db, user_id), "user", user_id)
    writable(row, "user")
    if not await catalog.delete_user(runtime.db, user_id):
        found(None, "user", user_id)
    await changed(runtime)
    return deleted(user_id)


@router.get(
    "/{user_id}/keys",
    response_model=DataList[KeyOut],
    summary="List a user's keys",
    responses=errors(404),
)
async def list_user_keys(user_id: str, runtime: Runtime) -> dict[str, Any]:
    """Revoked keys included; never the key itself, only its prefix."""
    found(await catalog.get_user(runtime.db, user_id), "user", user_id)
    return {"data": [key_view(key) for key in await catalog.list_keys(runtime.db, user_id)]}


@router.post(
    "/{user_id}/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Add an API key",
    responses=errors(404),
)
async def create_user_key(user_id: str, runtime: Runtime) -> dict[str, Any]:
    """A new key for the user (config users too: keys made here are the API's). `api_key` is
    shown in this response only; only its SHA-256 digest is stored."""
    found(await catalog.get_user(runtime.db, user_id), "user", user_id)
    api_key = generate_key()
    row = await catalog.create_key(
        runtime.db, user_id, hash_key(api_key).hex(), display_prefix(api_key), "api"
    )
    await changed(runtime)
    return {**key_view(row), "api_key": api_key}
