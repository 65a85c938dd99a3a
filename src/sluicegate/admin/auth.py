"""Master-key guard for every /admin path, as pure ASGI middleware in front of FastAPI.

A route dependency would run too late: FastAPI reads and parses the JSON body before it solves
dependencies, so a caller without a key could learn about validation rules (400) or which paths
exist (404/405). The guard answers 401 before any of that. The `bearer`/`api_key_header`
security schemes below only document the requirement in OpenAPI (Swagger's Authorize button);
they check nothing.

The dashboard's session cookie (`auth/session.py`) also authorises /admin requests, so the
browser never holds the master key: GET and HEAD need only the cookie (EventSource cannot send
headers), every other method also the session's CSRF token as `x-csrf-token`, else 403
`csrf_token_invalid`. A request that sends a key is judged by the key alone.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.security import APIKeyHeader, HTTPBearer

from ..auth import session
from ..auth.keys import is_master_key
from ..auth.resolver import key_from_headers
from ..errors import AuthenticationFailed, CsrfRejected, GatewayError
from ..types import ASGIApp, Receive, Scope, Send
from .errors import error_response

bearer = HTTPBearer(auto_error=False, description="The master key: `Authorization: Bearer K`.")
api_key_header = APIKeyHeader(
    name="x-api-key", auto_error=False, description="The master key, as `x-api-key: K`."
)


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


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
        error = self.refusal(scope)
        if error is None:
            await self.app(scope, receive, send)
            return
        response = error_response(error)
        if isinstance(error, AuthenticationFailed):
            response.headers["www-authenticate"] = "Bearer"
        await response(scope, receive, send)

    def refusal(self, scope: Scope) -> GatewayError | None:
        """Why this request may not pass, or None when it may."""
        authorization = x_api_key = cookie = csrf = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"x-api-key":
                x_api_key = value
            elif name == b"cookie":
                cookie = value
            elif name == b"x-csrf-token":
                csrf = value.decode("latin-1")
        master_key = self.master_key()
        given = key_from_headers(authorization, x_api_key)
        if given is None:
            signed_in = session.verify(session.cookie_from_header(cookie), master_key)
            if signed_in is not None:
                if scope["method"] in ("GET", "HEAD") or session.csrf_matches(signed_in, csrf):
                    return None
                return CsrfRejected(
                    f"A change made with the dashboard session needs its CSRF token in "
                    f"'{session.CSRF_HEADER}'."
                )
        elif is_master_key(given, master_key):
            return None
        return AuthenticationFailed(
            "The admin API needs the master key as 'Authorization: Bearer <key>' or 'x-api-key'."
        )
