"""The dashboard's HTTP side: sign-in and sign-out, the app shell and its static assets.

    GET  /dashboard            signed in: the app shell (CSRF token in a <meta>); else → login
    GET  /dashboard/login      the sign-in form (a plain HTML form: no script sees the key)
    POST /dashboard/login      master key → session cookie, 303 → /dashboard; wrong: 401;
                               locked out by the throttle: 429 + Retry-After
    POST /dashboard/logout     CSRF token (form field or header) → cookie cleared, 303 → login
    GET  /dashboard/static/*   CSS, ES modules, vendored uPlot (package data)

Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline
script or style): the pages can reach nothing but this gateway. The pages read and change
everything through /admin, authorised by the session cookie (admin/auth.py).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..auth import session
from ..auth.keys import is_master_key
from ..types import Message, Receive, Scope, Send
from .throttle import SignInThrottle

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
MAX_FORM_BYTES = 8192


def template(name: str, **values: str) -> str:
    text = (HERE / "templates" / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return text


def page(name: str, status: int = 200, **values: str) -> HTMLResponse:
    response = HTMLResponse(template(name, **values), status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def login_page(message: str = "", status: int = 200) -> HTMLResponse:
    return page("login.html", status, message=message, hidden="" if message else "hidden")


class DashboardApp:
    """The /dashboard ASGI app; `throttle` is its sign-in throttle (per process)."""

    def __init__(self, master_key: Callable[[], str | None]) -> None:
        self.master_key = master_key
        self.throttle = SignInThrottle()
        static = StaticFiles(directory=HERE / "static")
        self.router = Starlette(
            routes=[
                Route("/dashboard", self.shell, methods=["GET", "HEAD"]),
                Route("/dashboard/", self.shell, methods=["GET", "HEAD"]),
                Route("/dashboard/login", self.login_form, methods=["GET", "HEAD"]),
                Route("/dashboard/login", self.login, methods=["POST"]),
                Route("/dashboard/logout", self.logout, methods=["POST"]),
                Mount("/dashboard/static", static),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.router(scope, receive, send_secured)

    def session_of(self, request: Request) -> session.Session | None:
        return session.verify(request.cookies.get(session.COOKIE_NAME), self.master_key())

    async def shell(self, request: Request) -> Response:
        signed_in = self.session_of(request)
        if signed_in is None:
            return RedirectResponse("/dashboard/login", 303)
        return page("index.html", csrf=signed_in.csrf)

    async def login_form(self, request: Request) -> Response:
        if self.session_of(request) is not None:
            return RedirectResponse("/dashboard", 303)
        signed_out = "signed_out" in request.query_params
        return login_page("You are signed out." if signed_out else "")

    async def login(self, request: Request) -> Response:
        if not same_origin(request):
            return login_page("This sign-in did not come from this page.", 403)
        client = request.client.host if request.client else "unknown"
        wait = self.throttle.locked_for(client)
        if wait > 0:
            response = login_page(
                "Too many wrong keys: wait a moment before trying again.", status=429
            )
            response.headers["retry-after"] = str(max(1, int(wait + 0.999)))
            return response
        form = await read_form(request)
        master_key = self.master_key()
        if not is_master_key(form.get("key"), master_key):
            self.throttle.failed(client)
            return login_page("That is not the master key.", status=401)
        self.throttle.succeeded(client)
        assert master_key is not None
        signed_in = session.issue(master_key)
        response = RedirectResponse("/dashboard", 303)
        response.set_cookie(
            session.COOKIE_NAME,
            signed_in.token,
            max_age=session.LIFETIME_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request) -> Response:
        signed_in = self.session_of(request)
        if signed_in is not None:
            given = request.headers.get(session.CSRF_HEADER) or (await read_form(request)).get(
                "csrf"
            )
            if not same_origin(request) or not session.csrf_matches(signed_in, given):
                return login_page("Sign-out refused: the CSRF token is missing or wrong.", 403)
        response = RedirectResponse("/dashboard/login?signed_out", 303)
        response.delete_cookie(session.COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response


def same_origin(request: Request) -> bool:
    """A browser names the page a POST came from in `Origin`; refuse another site's. Clients
    that send no Origin (curl) are not browsers carrying someone else's cookie."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's first value per field; bodies over `MAX_FORM_BYTES` are ignored
    (a sign-in form is a few hundred bytes)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}
