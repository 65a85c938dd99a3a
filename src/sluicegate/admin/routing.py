"""AdminRoute: every admin endpoint answers errors itself, in the SPEC error shape.

Starlette sends a 500 for an unexpected exception and then re-raises it to the server; when
the admin app runs as the proxy's fallback app, that re-raise would reach the proxy after the
response has started. Converting inside the route keeps every failure a normal response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..errors import (
    Conflict,
    DatabaseUnavailable,
    GatewayError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RequestError,
)
from ..storage import db as storage_db
from .errors import error_response, invalid_request

log = logging.getLogger("sluicegate.admin")


def respond_to(exc: Exception, request: Request) -> Response:
    """The error response for any exception raised while handling `request`."""
    if isinstance(exc, GatewayError):
        return error_response(exc)
    if isinstance(exc, RequestValidationError):
        return error_response(invalid_request(exc.errors()))
    if isinstance(exc, storage_db.StorageUnavailable):
        return error_response(DatabaseUnavailable("The database is unavailable; try again later."))
    if isinstance(exc, storage_db.Conflict):  # a route without a more precise message
        return error_response(Conflict("The change conflicts with existing data."))
    if isinstance(exc, HTTPException):
        return error_response(http_error(exc.status_code, request))
    log.exception("admin %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError("internal error"))


def http_error(status: int, request: Request) -> GatewayError:
    """Starlette's own HTTP errors (no route, wrong method) as admin errors."""
    if status == 404:
        return NotFound(f"No such path: {request.method} {request.url.path}.")
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        return MethodNotAllowed(message, allow=allowed_methods(request))
    if status >= 500:
        return InternalError("internal error")
    return _StatusError(status, "The request could not be processed.")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path. Starlette's own 405 names only the methods
    of the first route whose path matched, but GET and POST /admin/backends are two routes."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


class _StatusError(RequestError):
    """Any other client error Starlette raises, keeping its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self._status = status

    @property
    def status_code(self) -> int:
        return self._status


class AdminRoute(APIRoute):
    """APIRoute whose handler turns every exception into an error response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return respond_to(exc, request)

        return guarded
