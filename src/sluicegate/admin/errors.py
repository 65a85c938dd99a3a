"""The admin API's error boundary: storage and validation failures mapped onto the error kinds
of `sluicegate.errors`, and the admin error response (admin may not import
`proxy.envelopes`, STYLE rule 6; both build the body with `errors.error_object`).

    GatewayError (sluicegate.errors)
    ├── RequestError
    │   ├── InvalidJSON           400 invalid_json     (sluicegate.errors)
    │   ├── InvalidRequest        400 invalid_request  (sluicegate.errors; `param` = field path)
    │   ├── AuthenticationFailed  401 invalid_api_key  (sluicegate.errors)
    │   ├── NotFound              404 not_found        unknown id or path
    │   ├── MethodNotAllowed      405                  (sluicegate.errors)
    │   └── Conflict              409 conflict         duplicate name, entity still referenced
    │       └── ReadOnly          409 read_only        entity comes from the config file
    ├── DatabaseUnavailable       503 database_unavailable
    └── InternalError             500                  (sluicegate.errors; text never shown)

Messages never quote a request's values beyond ids and names: a storage exception's own text
(which for an INSERT may contain bound parameters such as an api_key) is never passed on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..errors import (
    Conflict,
    DatabaseUnavailable,
    GatewayError,
    InvalidJSON,
    InvalidRequest,
    RequestError,
    error_object,
)
from ..storage import db as storage_db


def error_response(error: GatewayError) -> JSONResponse:
    """`{"error": {"message", "type", "code", "param"}}` with the error's status and headers."""
    body = {"error": error_object(error)}
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in error.headers()}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


@contextlib.contextmanager
def storage_errors(conflict: str = "This entity conflicts with an existing one.") -> Iterator[None]:
    """Map storage exceptions raised inside the block. `conflict` is the whole 409 message
    ("backend 'x' already exists."), written by the caller so it never echoes a secret."""
    try:
        yield
    except storage_db.Conflict as exc:
        raise Conflict(conflict) from exc
    except storage_db.StorageUnavailable as exc:
        raise DatabaseUnavailable("The database is unavailable; try again later.") from exc


def field_path(loc: Sequence[Any]) -> str | None:
    """pydantic's `loc` as the path a user reads: ("targets", 0, "backend") → targets[0].backend.
    The FastAPI source prefix ("body", "query", "path") is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


def invalid_request(errors: Sequence[Any]) -> RequestError:
    """The first pydantic error as a 400 whose `param` is its field path; the message adds how
    many more problems there are, so one round trip shows that the body has several."""
    if not errors:
        return InvalidRequest("Invalid request.")
    first = errors[0]
    param = field_path(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return InvalidJSON("The request body is not valid JSON.")
    if first.get("type") == "missing" and param is None:
        return InvalidRequest("A JSON request body is required.")
    msg = str(first.get("msg", "invalid value"))
    message = f"{param}: {msg}" if param else msg
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return InvalidRequest(message, param=param)


def from_validation_error(exc: ValidationError) -> RequestError:
    """A pydantic ValidationError raised by our own `model_validate` (PUT after merging)."""
    return invalid_request(exc.errors(include_input=False, include_url=False))
