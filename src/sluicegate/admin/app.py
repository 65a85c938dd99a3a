"""build_admin_app: the admin API of SPEC 5 as one FastAPI app, OpenAPI at /docs.

    request ──► MasterKeyGuard (401 unless master key, /admin/* only) ──► FastAPI router
                                                                            │ AdminRoute
                                      errors of any kind ──► error_response ◄┘

The gateway mounts it behind the proxy as the fallback app (docs/decisions.md 1), so it also
answers unknown paths: with the same error shape (404 not_found, 405 method_not_allowed).
Every list endpoint returns `{"data": [...]}`, as OpenAI's list endpoints do.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import GatewayError
from . import analytics, backends, keys, live, models, permissions, reload, users
from .auth import MasterKeyGuard, api_key_header, bearer
from .openapi import document_errors
from .routing import respond_to
from .runtime import AdminRuntime
from .schemas import errors

DESCRIPTION = """\
Manage the catalog (backends, models, users, API keys, permissions) and read the request log.

Every `/admin` route needs the master key, as `Authorization: Bearer K` or `x-api-key: K`.
Changes take effect at once, in every gateway process, without a restart.
Lists are returned as `{"data": [...]}`. Errors are
`{"error": {"message", "type", "code", "param"}}`: 400 `invalid_request` (with `param`, the
field path), 401 `invalid_api_key`, 404 `not_found`, 409 `conflict` (name taken, entity still
in use) or `read_only` (the entity comes from the config file: change the file and reload),
405 `method_not_allowed` (with an `Allow` header), 503 `database_unavailable`. Every status an
operation can answer is listed under it, with this error body.
"""

TAGS = [
    {"name": "backends", "description": "Upstream servers. `api_key` is write-only."},
    {"name": "models", "description": "Public model names and their targets."},
    {"name": "users", "description": "Users and their API keys (shown once, stored hashed)."},
    {"name": "permissions", "description": "Grants of a backend or a model glob to a user."},
    {"name": "analytics", "description": "The request log and usage totals."},
    {"name": "live", "description": "Finished requests as Server-Sent Events, as they happen."},
    {"name": "config", "description": "Re-reading the config file."},
]


def build_admin_app(runtime: AdminRuntime) -> FastAPI:
    """The admin FastAPI app over `runtime`; routers find it as `request.app.state.runtime`."""
    app = FastAPI(
        title="sluicegate admin API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    security = [Security(bearer), Security(api_key_header)]
    for module in (backends, models, users, keys, permissions, analytics, live, reload):
        app.include_router(module.router, dependencies=security, responses=errors(401, 503))
    document_errors(app)

    # Route-level errors are answered by AdminRoute; these cover what happens before a route
    # is chosen (no such path, wrong method) and anything that slips past it.
    async def handle(request: Request, exc: Exception) -> Response:
        return respond_to(exc, request)

    app.add_exception_handler(HTTPException, handle)
    app.add_exception_handler(RequestValidationError, handle)
    app.add_exception_handler(GatewayError, handle)
    app.add_middleware(MasterKeyGuard, master_key=lambda: runtime.master_key)
    return app
