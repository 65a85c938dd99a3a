"""/admin/backends: upstream servers. Credentials are write-only: reads show `api_key` as null
with `api_key_set`, and every `headers` value as "[redacted]" (headers often carry upstream
credentials); a PUT without `api_key`, or with a header still "[redacted]", keeps what is
stored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..config.schema import BackendConfig
from ..errors import Conflict
from ..storage import catalog
from ..storage.config_sync import backend_values
from ..storage.db import Database
from .crud import Row, changed, deleted, found, stored_fields, validated, writable
from .errors import storage_errors
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import BackendOut, BackendUpdate, DataList, Deleted, errors, merge

router = APIRouter(prefix="/admin/backends", tags=["backends"], route_class=AdminRoute)


REDACTED = "[redacted]"


def present(row: Row) -> dict[str, Any]:
    """A stored backend as responses show it: no credential, only whether there is one."""
    headers = {name: REDACTED for name in row.get("headers") or {}}
    return {**row, "api_key": None, "api_key_set": bool(row.get("api_key")), "headers": headers}


def keep_redacted_headers(changes: dict[str, Any], row: Row) -> None:
    """A header sent back as "[redacted]" (read, edited elsewhere, PUT back) keeps its value."""
    headers = changes.get("headers")
    if isinstance(headers, dict):
        stored = row.get("headers") or {}
        changes["headers"] = {
            name: stored.get(name, "") if value == REDACTED else value
            for name, value in headers.items()
            if value != REDACTED or name in stored
        }


def columns(backend: BackendConfig) -> dict[str, Any]:
    values = backend_values(backend)
    values["api_key"] = values.get("api_key") or None  # "" means no key, as in the file
    return values


async def models_using(db: Database, backend_name: str) -> list[str]:
    """Names of the models with a target on `backend_name`."""
    return [
        model["name"]
        for model in await catalog.list_models(db)
        if any(target.get("backend") == backend_name for target in model["targets"])
    ]


async def refuse_if_used(db: Database, row: Row, doing: str) -> None:
    """409 when models still route to this backend: they would point at nothing."""
    users = await models_using(db, row["name"])
    if users:
        names = ", ".join(f"'{name}'" for name in users)
        raise Conflict(
            f"Cannot {doing} backend '{row['name']}': model(s) {names} route to it; "
            "change their targets first."
        )


@router.get("", response_model=DataList[BackendOut], summary="List backends")
async def list_backends(runtime: Runtime) -> dict[str, Any]:
    return {"data": [present(row) for row in await catalog.list_backends(runtime.db)]}


@router.post(
    "",
    status_code=201,
    response_model=BackendOut,
    summary="Create a backend",
    responses=errors(409),
)
async def create_backend(body: BackendConfig, runtime: Runtime) -> dict[str, Any]:
    """Takes the fields of a `backends:` entry of the config file."""
    with storage_errors(f"A backend named '{body.name}' already exists."):
        row = await catalog.create_backend(runtime.db, columns(body))
    await changed(runtime)
    return present(row)


@router.get(
    "/{backend_id}", response_model=BackendOut, summary="Get a backend", responses=errors(404)
)
async def get_backend(backend_id: str, runtime: Runtime) -> dict[str, Any]:
    return present(found(await catalog.get_backend(runtime.db, backend_id), "backend", backend_id))


@router.put(
    "/{backend_id}",
    response_model=BackendOut,
    summary="Update a backend",
    responses=errors(404, 409),
)
async def update_backend(backend_id: str, body: BackendUpdate, runtime: Runtime) -> dict[str, Any]:
    """Partial: omitted fields keep their value; the result is validated as a whole."""
    db = runtime.db
    row = found(await catalog.get_backend(db, backend_id), "backend", backend_id)
    writable(row, "backend")
    changes = body.model_dump(exclude_unset=True)
    keep_redacted_headers(changes, row)
    if "api_key" in changes:
        if changes["api_key"] is None:
            del changes["api_key"]  # what every read shows: keep the key
        elif changes["api_key"] == "":
            changes["api_key"] = None  # merge drops it: back to no key
    backend = validated(
        BackendConfig, merge(BackendConfig, stored_fields(row, BackendConfig), changes)
    )
    if backend.name != row["name"]:
        await refuse_if_used(db, row, "rename")
    with storage_errors(f"A backend named '{backend.name}' already exists."):
        updated = await catalog.update_backend(db, backend_id, columns(backend))
    updated = found(updated, "backend", backend_id)  # deleted meanwhile
    await changed(runtime)
    return present(updated)


@router.delete(
    "/{backend_id}",
    response_model=Deleted,
    summary="Delete a backend",
    responses=errors(404, 409),
)
async def delete_backend(backend_id: str, runtime: Runtime) -> dict[str, Any]:
    """Also removes the permissions that grant it. Refused while a model routes to it."""
    db = runtime.db
    row = found(await catalog.get_backend(db, backend_id), "backend", backend_id)
    writable(row, "backend")
    await refuse_if_used(db, row, "delete")
    if not await catalog.delete_backend(db, backend_id):
        found(None, "backend", backend_id)
    await changed(runtime)
    return deleted(backend_id)
