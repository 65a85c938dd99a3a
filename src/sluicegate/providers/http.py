"""Upstream HTTP plumbing: one connection pool per backend (`h1.Pool`, decision 38), and its
exceptions mapped to `errors` at this one boundary.

Two mappings, because the same exception means different things on either side of the
first byte: a reset before the response started is an `UpstreamConnectError` (502, retryable);
the same reset mid-stream is `UpstreamDisconnected` (an SSE error event, never retried).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from .. import __version__
from ..config.schema import BackendConfig, Timeouts
from ..errors import UpstreamConnectError, UpstreamDisconnected, UpstreamStatusError
from .base import Headers
from .h1 import ConnectFailed, Pool, Response

_USER_AGENT = f"sluicegate/{__version__}"


def new_pool(config: BackendConfig, headers: dict[str, str]) -> Pool:
    """A pool whose default headers carry the upstream credentials, so requests add none."""
    return Pool(
        {
            "user-agent": _USER_AGENT,
            "content-type": "application/json",
            **headers,
            **config.headers,
        },
        connect_timeout=config.timeouts.connect,
    )


@contextmanager
def before_response(backend: str) -> Iterator[None]:
    """Map failures up to and including the response headers (and a non-stream body)."""
    try:
        yield
    except ConnectFailed as exc:
        raise UpstreamConnectError(f"cannot connect to backend '{backend}': {exc}") from exc
    except ConnectionError as exc:
        raise UpstreamConnectError(
            f"backend '{backend}' closed the connection before answering ({type(exc).__name__})"
        ) from exc


def stream_broke(backend: str, exc: ConnectionError) -> UpstreamDisconnected:
    """The failure of reading an event stream whose 200 has arrived (a plain try/except at
    the read: a context manager per read cost ~2 µs of every streamed event)."""
    return UpstreamDisconnected(f"backend '{backend}' stream broke: {type(exc).__name__}")


def status_error(status: int, body: bytes, headers: Any) -> UpstreamStatusError:
    """Build the error for an upstream status >= 400, keeping its OpenAI error fields."""
    message, err_type, code, param = f"upstream returned HTTP {status}", None, None, None
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        err_type = error.get("type") if isinstance(error.get("type"), str) else None
        code = error.get("code") if isinstance(error.get("code"), str) else None
        param = error.get("param") if isinstance(error.get("param"), str) else None
    elif isinstance(error, str):
        message = error
    return UpstreamStatusError(
        status,
        message,
        upstream_type=err_type,
        upstream_code=code,
        param=param,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds only; dates are rare from LLM APIs)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


StatusError = Callable[[int, bytes, Any], UpstreamStatusError]


class HTTPBackend:
    """What every HTTP provider shares: its config, one connection pool (created on first use,
    so it binds to the running loop of the worker that uses it, with the credentials of
    `_credentials()` as default headers) and the two ways a request goes upstream."""

    def __init__(self, config: BackendConfig) -> None:
        self.name = config.name
        self.config = config
        self._pool: Pool | None = None

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    def _credentials(self) -> dict[str, str]:
        return {}

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = new_pool(self.config, self._credentials())
        return self._pool

    async def _post(
        self,
        url: str,
        payload: bytes,
        errors: StatusError = status_error,
        headers: Headers | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """A whole answer: its bytes and its JSON object; a status >= 400 raises `errors(...)`,
        a body that is not a JSON object is an upstream failure."""
        with before_response(self.name):
            resp = await self.pool.post(url, payload, headers)
            try:
                answer = await resp.read()
            finally:
                resp.release()  # back to the pool if the body was read whole; closed if not
            if resp.status >= 400:
                raise errors(resp.status, answer, resp.headers)
        try:
            obj = orjson.loads(answer)
        except orjson.JSONDecodeError as exc:
            raise UpstreamConnectError(f"backend '{self.name}' sent invalid JSON") from exc
        if not isinstance(obj, dict):
            raise UpstreamConnectError(f"backend '{self.name}' sent a non-object JSON body")
        return answer, obj

    async def _open(
        self,
        url: str,
        payload: bytes,
        errors: StatusError = status_error,
        headers: Headers | None = None,
    ) -> Response:
        """A response whose status said it will stream; a status >= 400 raises `errors(...)`."""
        with before_response(self.name):
            resp = await self.pool.post(url, payload, headers)
            if resp.status >= 400:
                try:
                    answer = await resp.read()
                finally:
                    resp.release()
                raise errors(resp.status, answer, resp.headers)
        return resp

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
