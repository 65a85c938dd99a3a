"""ProxyApp: the ASGI entry of the hot path. It routes by exact path (a dict lookup, no regex),
reads the few headers it needs once, and hands anything it does not own to `fallback`
(the admin API and dashboard), or answers 404 in the error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from random import Random

import orjson

from ..errors import GatewayError, MethodNotAllowed, NotFound
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import inference, models
from .chat import CHAT, COMPLETIONS
from .context import RequestContext
from .disconnect import HANGUP_KEY
from .embeddings import EMBEDDINGS
from .endpoint import Endpoint
from .envelopes import error_body
from .headers import RequestHeaders
from .messages import COUNT_TOKENS, MESSAGES
from .replies import send_json
from .responses import RESPONSES
from .state import ProxyState

_INFERENCE: dict[str, Endpoint] = {}
for _prefix in ("/v1", ""):
    _INFERENCE[_prefix + "/chat/completions"] = CHAT
    _INFERENCE[_prefix + "/completions"] = COMPLETIONS
    _INFERENCE[_prefix + "/embeddings"] = EMBEDDINGS
    _INFERENCE[_prefix + "/messages"] = MESSAGES
    _INFERENCE[_prefix + "/messages/count_tokens"] = COUNT_TOKENS
    _INFERENCE[_prefix + "/responses"] = RESPONSES

# Our own generator (seeded from the OS), so code reseeding the global `random` cannot make
# request ids repeat, and request ids do not move the global state.
_ids = Random()


def new_request_id(given: bytes | None) -> str:
    """The client's `x-request-id` when it is short and printable, else a fresh one."""
    if given and len(given) <= 128 and given.isascii():
        text = given.decode("ascii")
        if text.isprintable() and " " not in text:
            return text
    # Not os.urandom: its syscall releases the GIL mid-request (to the log writer's thread).
    # Request ids need uniqueness, not secrecy.
    return f"{_ids.getrandbits(128):032x}"


def client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class ProxyApp:
    def __init__(self, state: ProxyState, fallback: ASGIApp | None = None) -> None:
        self.state = state
        self.fallback = fallback
        self._get: dict[str, Callable[[RequestHeaders, str, Send], Awaitable[None]]] = {
            "/health": self._health,
            "/health/ready": self._ready,
            "/metrics": self._metrics,
            "/v1/models": self._models,
            "/models": self._models,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        endpoint = _INFERENCE.get(path)
        if endpoint is not None:
            headers = RequestHeaders(scope["headers"])
            ctx = RequestContext(new_request_id(headers.request_id), path, client_ip(scope))
            if method != "POST":
                error = _method_error(method, path, _POST)
                body = endpoint.error_body(error)
                return await send_json(
                    send, error.status_code, body, ctx.request_id, error.headers()
                )
            hangup = scope.get(HANGUP_KEY)
            return await inference.handle(self.state, endpoint, ctx, headers, receive, send, hangup)
        handler = self._get.get(path)
        if handler is None and path.startswith(("/v1/models/", "/models/")):
            handler = self._model
        if handler is not None:
            headers = RequestHeaders(scope["headers"])
            request_id = new_request_id(headers.request_id)
            if method not in ("GET", "HEAD"):
                return await self._error(send, request_id, _method_error(method, path, _GET))
            try:
                return await handler(headers, path, send)
            except GatewayError as exc:
                return await self._error(send, request_id, exc)
        if self.fallback is not None:
            return await self._to_fallback(self.fallback, scope, receive, send)
        headers = RequestHeaders(scope["headers"])
        error = NotFound(f"Unknown path {path}.")
        await self._error(send, new_request_id(headers.request_id), error)

    async def _to_fallback(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """The admin API and dashboard, with `x-request-id` added like every other response."""
        request_id = new_request_id(RequestHeaders(scope["headers"]).request_id).encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await app(scope, receive, send_with_id)

    async def _error(self, send: Send, request_id: str, error: GatewayError) -> None:
        await send_json(send, error.status_code, error_body(error), request_id, error.headers())

    async def _health(self, headers: RequestHeaders, path: str, send: Send) -> None:
        await send_json(send, 200, b'{"status":"ok"}', new_request_id(headers.request_id))

    async def _ready(self, headers: RequestHeaders, path: str, send: Send) -> None:
        ready = self.state.ready
        database = None
        if self.state.inflight.draining:
            ready, status = False, "draining"
        else:
            if ready and self.state.check_ready is not None:
                database = await self.state.check_ready()
                ready = database
            status = (
                "ready" if ready else ("starting" if database is None else "database_unavailable")
            )
        body = orjson.dumps({"status": status})
        await send_json(send, 200 if ready else 503, body, new_request_id(headers.request_id))

    async def _metrics(self, headers: RequestHeaders, path: str, send: Send) -> None:
        render = self.state.render_metrics
        if render is None:
            raise NotFound("Metrics are not enabled.")
        body = render()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
                    (b"content-length", b"%d" % len(body)),
                    (b"x-request-id", new_request_id(headers.request_id).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _models(self, headers: RequestHeaders, path: str, send: Send) -> None:
        body = models.list_models(self.state, headers)
        await send_json(send, 200, body, new_request_id(headers.request_id))

    async def _model(self, headers: RequestHeaders, path: str, send: Send) -> None:
        model_id = path.split("/models/", 1)[1]
        body = models.get_model(self.state, headers, model_id)
        await send_json(send, 200, body, new_request_id(headers.request_id))


_POST = ("POST",)
_GET = ("GET", "HEAD")


def _method_error(method: str, path: str, allow: tuple[str, ...]) -> GatewayError:
    return MethodNotAllowed(f"Method {method} is not allowed on {path}.", allow=allow)
