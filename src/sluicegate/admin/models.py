"""/admin/models: public model names, their targets, fallbacks and pricing.

Bodies are `models:` entries of the config file. Cross-references are checked like
`check-config` does: every target's backend, every fallback and every guardrail (those of the
config file) must exist, and a backend or model that others refer to cannot be renamed or
deleted from under them (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..config.schema import ModelConfig
from ..errors import Conflict, InvalidRequest
from ..storage import catalog
from ..storage.catalog_view import model_fields
from ..storage.config_sync import model_values
from ..storage.db import Database
from .crud import Row, changed, deleted, found, validated, writable
from .errors import storage_errors
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import DataList, Deleted, ModelOut, ModelUpdate, errors, merge

router = APIRouter(prefix="/admin/models", tags=["models"], route_class=AdminRoute)


def present(row: Row) -> dict[str, Any]:
    return {**row, **model_fields(row)}


async def check_references(db: Database, model: ModelConfig, guardrails: list[str]) -> None:
    """400 naming the first target backend, fallback or guardrail that does not exist."""
    for i, name in enumerate(model.guardrails or ()):
        if name not in guardrails:
            raise InvalidRequest(
                f"guardrails[{i}]: unknown guardrail '{name}'", param=f"guardrails[{i}]"
            )
    backends = {row["name"] for row in await catalog.list_backends(db)}
    for i, target in enumerate(model.targets):
        if target.backend not in backends:
            raise InvalidRequest(
                f"targets[{i}].backend: unknown backend '{target.backend}'",
                param=f"targets[{i}].backend",
            )
    models = {row["name"] for row in await catalog.list_models(db)}
    for i, fallback in enumerate(model.fallbacks):
        if fallback == model.name:
            raise InvalidRequest(
                f"fallbacks[{i}]: a model cannot fall back to itself", param=f"fallbacks[{i}]"
            )
        if fallback not in models:
            raise InvalidRequest(
                f"fallbacks[{i}]: unknown model '{fallback}'", param=f"fallbacks[{i}]"
            )


async def refuse_if_fallback(db: Database, row: Row, doing: str) -> None:
    """409 when other models fall back to this one."""
    users = [
        other["name"]
        for other in await catalog.list_models(db)
        if other["id"] != row["id"] and row["name"] in other["fallbacks"]
    ]
    if users:
        names = ", ".join(f"'{name}'" for name in users)
        raise Conflict(
            f"Cannot {doing} model '{row['name']}': model(s) {names} fall back to it; "
            "change their fallbacks first."
        )


@router.get("", response_model=DataList[ModelOut], summary="List models")
async def list_models(runtime: Runtime) -> dict[str, Any]:
    return {"data": [present(row) for row in await catalog.list_models(runtime.db)]}


@router.post(
    "", status_code=201, response_model=ModelOut, summary="Create a model", responses=errors(409)
)
async def create_model(body: ModelConfig, runtime: Runtime) -> dict[str, Any]:
    """Takes the fields of a `models:` entry of the config file."""
    await check_references(runtime.db, body, runtime.guardrail_names)
    with storage_errors(f"A model named '{body.name}' already exists."):
        row = await catalog.create_model(runtime.db, model_values(body))
    await changed(runtime)
    return present(row)


@router.get("/{model_id}", response_model=ModelOut, summary="Get a model", responses=errors(404))
async def get_model(model_id: str, runtime: Runtime) -> dict[str, Any]:
    return present(found(await catalog.get_model(runtime.db, model_id), "model", model_id))


@router.put(
    "/{model_id}",
    response_model=ModelOut,
    summary="Update a model",
    responses=errors(404, 409),
)
async def update_model(model_id: str, body: ModelUpdate, runtime: Runtime) -> dict[str, Any]:
    """Partial: omitted fields keep their value (`pricing` merges key by key); the result is
    validated as a whole, references included."""
    db = runtime.db
    row = found(await catalog.get_model(db, model_id), "model", model_id)
    writable(row, "model")
    model = validated(
        ModelConfig, merge(ModelConfig, model_fields(row), body.model_dump(exclude_unset=True))
    )
    await check_references(db, model, runtime.guardrail_names)
    if model.name != row["name"]:
        await refuse_if_fallback(db, row, "rename")
    with storage_errors(f"A model named '{model.name}' already exists."):
        updated = await catalog.update_model(db, model_id, model_values(model))
    updated = found(updated, "model", model_id)
    await changed(runtime)
    return present(updated)


@router.delete(
    "/{model_id}",
    response_model=Deleted,
    summary="Delete a model",
    responses=errors(404, 409),
)
async def delete_model(model_id: str, runtime: Runtime) -> dict[str, Any]:
    """Refused while another model falls back to it."""
    db = runtime.db
    row = found(await catalog.get_model(db, model_id), "model", model_id)
    writable(row, "model")
    await refuse_if_fallback(db, row, "delete")
    if not await catalog.delete_model(db, model_id):
        found(None, "model", model_id)
    await changed(runtime)
    return deleted(model_id)
