"""What every catalog router shares: 404 and read-only checks, validating a merged body with
its config model, refusing fields the catalog cannot store, and announcing a change."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from ..errors import InvalidRequest, NotFound, ReadOnly
from .errors import from_validation_error
from .runtime import AdminRuntime

log = logging.getLogger("sluicegate.admin")

M = TypeVar("M", bound=BaseModel)
Row = dict[str, Any]


def found(row: Row | None, kind: str, id_: str) -> Row:
    """`row`, or 404 when the id is unknown."""
    if row is None:
        raise NotFound(f"No {kind} with id '{id_[:64]}'.")
    return row


def writable(row: Mapping[str, Any], kind: str) -> None:
    """409 read_only for an entity the config file owns: the next reload would undo a change."""
    if row.get("source") == "config":
        name = row.get("name") or row.get("prefix") or row.get("id")
        raise ReadOnly(
            f"{kind} '{name}' comes from the config file and is read-only here; "
            "change the file and reload (POST /admin/reload)."
        )


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """`data` as `model`, or a 400 naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def refuse_unstorable(
    table: Table, body: BaseModel, model: type[BaseModel], handled: Iterable[str] = ()
) -> None:
    """400 for a field of the config `model` that `table` has no column for (and the caller
    does not store elsewhere, `handled`), sent with other than its default: accepting it
    silently would lose it."""
    columns = {column.name for column in table.c} | set(handled)
    for name in sorted(body.model_fields_set - columns):
        value = getattr(body, name)
        default = model.model_fields[name].get_default(call_default_factory=True)
        if value is not None and value != default:
            raise InvalidRequest(
                f"{name}: not supported by the admin API yet; set it in the config file.",
                param=name,
            )


def stored_fields(row: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The part of a catalog row that is a field of the config `model`. A NULL in a column the
    model does not allow to be null (one added by a later migration) is left out, so the
    field's default applies."""
    return {
        name: row[name]
        for name, field in model.model_fields.items()
        if name in row and (row[name] is not None or field.get_default() is None)
    }


async def changed(runtime: AdminRuntime) -> None:
    """Tell this process to reload now. The change is committed either way, and other
    processes see the version bump by polling, so a failure here is logged, not returned."""
    try:
        await runtime.catalog_changed()
    except Exception:
        log.exception("catalog_changed failed after a committed admin change")


def deleted(id_: str) -> dict[str, Any]:
    """The body of a successful DELETE, like OpenAI's `{"id", "deleted": true}`."""
    return {"id": id_, "deleted": True}
