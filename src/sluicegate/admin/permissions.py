"""/admin/permissions: grants of a backend (every model on it, as `<backend>/<model>`) or of a
model-name glob to a user, on top of the user's own `models` globs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ..errors import InvalidRequest
from ..storage import catalog
from ..storage.db import Database
from .crud import changed, deleted, found
from .errors import storage_errors
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import DataList, Deleted, PermissionIn, PermissionOut, PermissionUpdate, errors

router = APIRouter(prefix="/admin/permissions", tags=["permissions"], route_class=AdminRoute)

FIELDS = ("user_id", "backend_id", "model")


async def checked(db: Database, grant: dict[str, Any]) -> dict[str, Any]:
    """400 unless the grant names an existing user and exactly one of an existing backend or
    a model glob; returns the grant's columns."""
    has_backend, has_model = grant.get("backend_id") is not None, grant.get("model") is not None
    if has_backend == has_model:
        raise InvalidRequest(
            "Give exactly one of backend_id (a backend's id) or model (a model-name glob).",
            param="backend_id" if has_backend else "model",
        )
    if await catalog.get_user(db, grant["user_id"]) is None:
        raise InvalidRequest(f"unknown user '{grant['user_id'][:64]}'", param="user_id")
    if has_backend and await catalog.get_backend(db, grant["backend_id"]) is None:
        raise InvalidRequest(f"unknown backend '{grant['backend_id'][:64]}'", param="backend_id")
    return {name: grant.get(name) for name in FIELDS}


@router.get("", response_model=DataList[PermissionOut], summary="List permissions")
async def list_permissions(
    runtime: Runtime, user_id: str | None = Query(None, description="Only this user's.")
) -> dict[str, Any]:
    return {"data": await catalog.list_permissions(runtime.db, user_id)}


@router.post(
    "",
    status_code=201,
    response_model=PermissionOut,
    summary="Grant a permission",
    responses=errors(409),
)
async def create_permission(body: PermissionIn, runtime: Runtime) -> dict[str, Any]:
    """`{"user_id", "backend_id"}` or `{"user_id", "model": "gpt-4o*"}`."""
    grant = await checked(runtime.db, body.model_dump())
    with storage_errors("The user or backend was deleted meanwhile."):
        row = await catalog.create_permission(runtime.db, grant)
    await changed(runtime)
    return row


@router.get(
    "/{permission_id}",
    response_model=PermissionOut,
    summary="Get a permission",
    responses=errors(404),
)
async def get_permission(permission_id: str, runtime: Runtime) -> dict[str, Any]:
    row = await catalog.get_permission(runtime.db, permission_id)
    return found(row, "permission", permission_id)


@router.put(
    "/{permission_id}",
    response_model=PermissionOut,
    summary="Update a permission",
    responses=errors(404, 409),
)
async def update_permission(
    permission_id: str, body: PermissionUpdate, runtime: Runtime
) -> dict[str, Any]:
    """Partial: omitted fields keep their value; to switch between a backend and a model
    glob, set the other one to null."""
    db = runtime.db
    row = found(await catalog.get_permission(db, permission_id), "permission", permission_id)
    grant = {**{name: row[name] for name in FIELDS}, **body.model_dump(exclude_unset=True)}
    if grant["user_id"] is None:
        raise InvalidRequest("user_id: a permission needs a user", param="user_id")
    values = await checked(db, grant)
    with storage_errors("The user or backend was deleted meanwhile."):
        updated = await catalog.update_permission(db, permission_id, values)
    updated = found(updated, "permission", permission_id)
    await changed(runtime)
    return updated


@router.delete(
    "/{permission_id}",
    response_model=Deleted,
    summary="Revoke a permission",
    responses=errors(404),
)
async def delete_permission(permission_id: str, runtime: Runtime) -> dict[str, Any]:
    if not await catalog.delete_permission(runtime.db, permission_id):
        found(None, "permission", permission_id)
    await changed(runtime)
    return deleted(permission_id)
