"""The admin API's OpenAPI document: FastAPI's, with the errors the API really answers.

FastAPI documents a 422 wherever request validation can fail; the admin API answers those
failures with 400 `invalid_request` (errors.py), so each 422 becomes that 400 and FastAPI's
validation-error schemas go. Error bodies are JSON even on a route whose own answer is not
(the live log's SSE). A query parameter or header cannot be null (it is left out instead), so the
null FastAPI allows for an optional one is dropped from its schema. The other statuses are
declared with `schemas.errors(...)`: 401 and 503 for every /admin route (app.py), 404, 409 and
the other 400s on the routes that raise them. tests/admin/test_openapi_fuzz.py holds the
document to what the server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from .schemas import ERROR_DESCRIPTIONS

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_ERROR_REF = "#/components/schemas/ErrorBody"


def with_errors_as_answered(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every 422 replaced by the admin API's 400 and no null query values
    (in place; returned)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "header"):
                    parameter["schema"] = _without_null(parameter["schema"])
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": ERROR_DESCRIPTIONS[400],
                    "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
                }
            for status, response in responses.items():
                content = response.get("content", {})
                # FastAPI files error bodies under the route's own media type (SSE).
                misfiled = len(content) == 1 and "application/json" not in content
                if status.startswith(("4", "5")) and misfiled:
                    response["content"] = {"application/json": next(iter(content.values()))}
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`{"anyOf": [X, {"type": "null"}], ...}` → X with the outer keywords (title, default)."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or {"type": "null"} not in options:
        return schema
    kept = [option for option in options if option != {"type": "null"}]
    outer = {key: value for key, value in schema.items() if key != "anyOf"}
    if len(kept) == 1:
        return {**kept[0], **outer}
    return {"anyOf": kept, **outer}


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` (and so /openapi.json and /docs) return the corrected document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_errors_as_answered(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
