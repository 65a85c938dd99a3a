"""Master-key guard for every /admin path, as pure ASGI middleware in front of FastAPI.

A route dependency would run too late: FastAPI reads and parses the JSON body before it solves
dependencies, so a caller without a key could learn about validation rules (400) or which paths
exist (404/405). The guard answers 401 before any of that. The `bearer`/`api_key_header`
security schemes below only document the requirement in OpenAPI (Swagger's Authorize button);
they check nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi.security import APIKeyHeader, HTTPBearer

from ..auth.keys import hash_key
from ..auth.resolver import key_from_headers
from ..errors import AuthenticationFailed
from ..types import ASGIApp, Receive, Scope, Send
from .errors import error_response

bearer = HTTPBearer(auto_error=False, description="The master key: `Authorization: Bearer K`.")
api_key_header = APIKeyHeader(
    name="x-api-key", auto_error=False, description="The master key, as `x-api-key: K`."
)


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def is_master_key(given: str | None, master_key: str | None) -> bool:
    """Constant-time check; both sides are hashed first so lengths leak nothing either."""
    if not given or not master_key:
        return False
    return hmac.compare_digest(hash_key(given), hash_key(master_key))


class MasterKeyGuard:
    """Refuses /admin requests without the master key; other paths (/docs) pass through.

    `master_key` is a callable so a config reload that changes the key applies at once.
    """

    def __init__(self, app: ASGIApp, master_key: Callable[[], str | None]) -> None:
        self.app = app
        self.master_key = master_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = x_api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"x-api-key":
                x_api_key = value
        if is_master_key(key_from_headers(authorization, x_api_key), self.master_key()):
            await self.app(scope, receive, send)
            return
        error = AuthenticationFailed(
            "The admin API needs the master key as 'Authorization: Bearer <key>' or 'x-api-key'."
        )
        response = error_response(error)
        response.headers["www-authenticate"] = "Bearer"
        await response(scope, receive, send)
