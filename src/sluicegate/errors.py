"""Every error sluicegate raises on purpose, with its HTTP status, wire type, code and log class.

Handlers raise these; only `proxy/envelopes.py` turns them into JSON or SSE frames, and only
`record.Completion` turns them into a log row. Each class states, beside its status, whether a
retry or a fallback may help (`retryable`) and whether it counts against a target's health
(`target_failure`), so the attempt loop never needs a table of its own.

    GatewayError
    ├── RequestError                     client's fault, never retried
    │   ├── InvalidJSON                  400 invalid_json
    │   ├── InvalidRequest               400 invalid_request
    │   ├── RequestTooLarge              413 request_too_large
    │   ├── AuthenticationFailed         401 invalid_api_key
    │   ├── PermissionDenied             403 model_not_allowed
    │   ├── CsrfRejected                 403 csrf_token_invalid (admin: session cookie, no token)
    │   ├── ModelNotFound                404 model_not_found
    │   ├── NotFound                     404 not_found (no such path, admin id)
    │   ├── MethodNotAllowed             405 method_not_allowed
    │   ├── Conflict                     409 conflict (admin: name taken, still referenced)
    │   │   └── ReadOnly                 409 read_only (admin: entity from the config file)
    │   ├── RateLimited                  429 rate_limit_exceeded
    │   │   └── BudgetExceeded           429 budget_exceeded
    │   └── ContentFiltered              400 content_filter (a guardrail blocked; stream: event)
    ├── UpstreamError                    502 upstream_error: 5xx or unreachable, retryable
    │   ├── UpstreamConnectError         connect refused/reset before any byte
    │   └── UpstreamStatusError          upstream answered >= 400 (4xx passes through as is)
    ├── UpstreamTimeout                  504 request_timeout (first_token or total, before the 200)
    ├── StreamBroken                     after the 200: one SSE error event, never retried
    │   ├── UpstreamDisconnected         upstream_disconnected
    │   ├── StreamIdleTimeout            stream_idle_timeout
    │   └── StreamTotalTimeout           request_timeout
    ├── ClientDisconnected               499: the client hung up
    │   └── ClientStalled                the client stopped reading a stream for `idle` s
    ├── RequestTimeout                   408 request_timeout: headers or body sent too slowly
    ├── HeadersTooLarge                  431 request_header_fields_too_large
    ├── Overloaded                       503 overloaded: over `max_inflight`, or draining
    ├── GatewayShutdown                  503 gateway_shutdown: still running when the drain ended
    ├── DatabaseUnavailable              503 database_unavailable (admin API)
    └── InternalError                    500: a bug of ours

Raised at the boundaries of our own dependencies (not request errors, never sent as is):

    StorageUnavailable   storage/db.py: the database cannot be reached now; retry later
    StorageConflict      storage/db.py: a write broke a constraint (unique name, foreign key)
    LimitStoreUnavailable limits/store.py: Redis cannot be reached; the limiter fails open
    LiveRelayUnavailable live/redis.py: Redis cannot be reached; live events stay local
    CacheUnavailable     cache/redis.py: Redis cannot be reached; answered without the cache
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


def retry_after_header(seconds: float) -> tuple[bytes, bytes]:
    """`Retry-After` in whole seconds, rounded up, at least 1 (0 would invite a busy loop)."""
    return (b"retry-after", str(max(1, int(seconds + 0.999))).encode())


class GatewayError(Exception):
    """Base of every error that ends a request; carries everything needed to report it."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    code: ClassVar[str | None] = None
    log_type: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False
    target_failure: ClassVar[bool] = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def error_type(self) -> str:
        return self.type

    @property
    def error_code(self) -> str | None:
        return self.code

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Extra response headers this error carries (Retry-After, rate-limit state)."""
        return []


class RequestError(GatewayError):
    """The request itself is refused; nothing was sent upstream."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"
    log_type = "invalid_request"


class InvalidJSON(RequestError):
    """Raised when the body is not a JSON object."""

    code = "invalid_json"


class InvalidRequest(RequestError):
    """Raised when a field is missing or has the wrong type."""


class RequestTooLarge(RequestError):
    """Raised when the body exceeds `server.max_body_bytes`."""

    status = 413
    code = "request_too_large"


class AuthenticationFailed(RequestError):
    """Raised when no key was sent or the key is unknown or revoked."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"
    log_type = "auth_error"


class PermissionDenied(RequestError):
    """Raised when the key may not use the requested model."""

    status = 403
    type = "permission_error"
    code = "model_not_allowed"
    log_type = "permission_denied"


class CsrfRejected(RequestError):
    """Raised (admin API) when a change authorised only by the dashboard's session cookie
    lacks the matching `x-csrf-token` header: another site may have sent it."""

    status = 403
    type = "permission_error"
    code = "csrf_token_invalid"
    log_type = "permission_denied"


class ModelNotFound(RequestError):
    """Raised when no configured model or `<backend>/<model>` matches the name."""

    status = 404
    code = "model_not_found"
    log_type = "model_not_found"


class NotFound(RequestError):
    """Raised for a path the gateway does not serve, or an admin id that does not exist."""

    status = 404
    code = "not_found"


class Conflict(RequestError):
    """Raised (admin API) when a name is taken or an entity is still referenced by another."""

    status = 409
    code = "conflict"


class ReadOnly(Conflict):
    """Raised (admin API) when changing or deleting an entity that comes from the config file."""

    code = "read_only"


class MethodNotAllowed(RequestError):
    """Raised when a known path is called with the wrong HTTP method; `allow` lists the methods
    the path takes, sent as the `Allow` header a 405 must carry (RFC 9110 15.5.6)."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: Sequence[str]) -> None:
        super().__init__(message)
        self.allow = tuple(allow)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"allow", ", ".join(self.allow).encode("latin-1"))]


class RateLimited(RequestError):
    """Raised when the user's RPM or TPM window is full."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    log_type = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float, limit_headers: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit_headers = limit_headers

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [retry_after_header(self.retry_after), *self.limit_headers]


class BudgetExceeded(RateLimited):
    """Raised when the user's spend in the current budget period reached `budget_usd`."""

    code = "budget_exceeded"
    log_type = "budget_exceeded"


class ContentFiltered(RequestError):
    """Raised when a guardrail blocks the input or the answer: a 400 before the response
    started, the stream's one error event after it (never retried: another target would be
    asked the same thing). `guardrail` names it for the log; the matched text is never shown."""

    code = "content_filter"
    log_type = "content_filter"

    def __init__(self, guardrail: str) -> None:
        super().__init__(f"The content was blocked by the guardrail '{guardrail}'.")
        self.guardrail = guardrail


class UpstreamError(GatewayError):
    """The upstream failed before the response started: 5xx, reset, refused."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"
    log_type = "upstream_error"
    retryable = True
    target_failure = True


class UpstreamConnectError(UpstreamError):
    """Raised when the upstream cannot be reached or drops the connection before answering."""


class UpstreamStatusError(UpstreamError):
    """Raised when the upstream answers with a status >= 400.

    A 4xx other than 408/429 is the client's fault: it is passed through with the upstream's
    status, type and code and is neither retried nor held against the target.
    """

    def __init__(
        self,
        upstream_status: int,
        message: str,
        *,
        upstream_type: str | None = None,
        upstream_code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, param=param)
        self.upstream_status = upstream_status
        self.upstream_type = upstream_type
        self.upstream_code = upstream_code
        self.retry_after = retry_after

    @property
    def passthrough(self) -> bool:
        return 400 <= self.upstream_status < 500

    @property
    def status_code(self) -> int:
        return self.upstream_status if self.passthrough else 502

    @property
    def error_type(self) -> str:
        if self.passthrough:
            return self.upstream_type or "invalid_request_error"
        return "upstream_error"

    @property
    def error_code(self) -> str | None:
        return self.upstream_code if self.passthrough else "upstream_error"

    @property
    def is_retryable(self) -> bool:
        return self.upstream_status in (408, 429) or self.upstream_status >= 500

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.upstream_status == 429 and self.retry_after is not None:
            return [retry_after_header(self.retry_after)]
        return []


class UpstreamTimeout(GatewayError):
    """Raised when first_token or total elapses before the response started."""

    status = 504
    type = "timeout_error"
    code = "request_timeout"
    log_type = "timeout"
    retryable = True
    target_failure = True


class StreamBroken(GatewayError):
    """The stream failed after the 200 was sent; reported as one SSE error event."""

    status = 200
    type = "upstream_error"
    code = "upstream_disconnected"
    log_type = "upstream_disconnected"
    target_failure = True


class UpstreamDisconnected(StreamBroken):
    """Raised on reset, premature close or an upstream `error` event mid-stream.

    `resumable` is False for an error event that blames the request itself (its `type` or
    `code` says invalid request, auth, content filter, context length): asking another target
    to continue it would fail the same way (SPEC 4.9 resumes retryable error events only).
    """

    def __init__(self, message: str, *, resumable: bool = True) -> None:
        super().__init__(message)
        self.resumable = resumable


class StreamIdleTimeout(StreamBroken):
    """Raised when no upstream event arrived within the backend's `idle` timeout."""

    code = "stream_idle_timeout"
    log_type = "timeout"


class StreamTotalTimeout(StreamBroken):
    """Raised when the backend's `total` timeout elapsed mid-stream."""

    code = "request_timeout"
    log_type = "timeout"


class ClientDisconnected(GatewayError):
    """Raised when the client hung up; the upstream call is cancelled."""

    status = 499
    type = "client_disconnected"
    log_type = "client_disconnected"


class ClientStalled(ClientDisconnected):
    """Raised when a client stopped reading a stream for the backend's `idle` timeout: the
    upstream is closed rather than buffered for a reader that may never come back."""


class RequestTimeout(GatewayError):
    """Raised when a client takes longer than `server.header_timeout_seconds` to send its
    headers, or `server.body_timeout_seconds` to send its body (slowloris)."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"
    log_type = "invalid_request"


class HeadersTooLarge(GatewayError):
    """Raised when the request line and headers exceed `server.max_header_bytes`."""

    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"
    log_type = "invalid_request"


class Overloaded(GatewayError):
    """Raised when this process already runs `server.max_inflight` requests, or is draining:
    a quick 503 the client (or load balancer) can retry elsewhere, instead of a queue."""

    status = 503
    type = "server_error"
    code = "overloaded"
    log_type = "overloaded"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [retry_after_header(self.retry_after)]


class GatewayShutdown(GatewayError):
    """Raised in a request still running when the drain (`server.drain_seconds`) ends: a 503
    before the response started, the SPEC 4.4 error event after."""

    status = 503
    type = "server_error"
    code = "gateway_shutdown"
    log_type = "gateway_shutdown"


class DatabaseUnavailable(GatewayError):
    """Raised (admin API) when the database cannot be reached; the caller may retry later."""

    status = 503
    type = "api_error"
    code = "database_unavailable"
    retryable = True


class InternalError(GatewayError):
    """Raised for an unexpected exception; its text never reaches the client."""


class StorageUnavailable(Exception):
    """Raised when the database cannot be reached or refuses work right now (connection
    refused or lost, timeout, SQLite locked beyond busy_timeout); retrying later may succeed."""


class StorageConflict(Exception):
    """Raised when a write violates a constraint: a duplicate unique name or key hash, a
    foreign key to a missing row, or a permission with neither or both of backend and model."""


class LimitStoreUnavailable(Exception):
    """Raised when the shared limit store (Redis) cannot be reached; callers fail open."""


class LiveRelayUnavailable(Exception):
    """Raised when the live-log relay cannot reach Redis; events keep reaching this process's
    subscribers and the relay retries."""


class CacheUnavailable(Exception):
    """Raised when the response cache's Redis cannot be reached; the request is answered
    without the cache (`x-sluicegate-cache: bypass`)."""


def error_object(error: GatewayError) -> dict[str, object]:
    """The `{"message", "type", "code", "param"}` object of every error body; an internal
    error's own text is never shown."""
    message = "Internal server error." if isinstance(error, InternalError) else error.message
    return {
        "message": message,
        "type": error.error_type,
        "code": error.error_code,
        "param": error.param,
    }


def retryable(error: GatewayError) -> bool:
    """Whether another try (same target after backoff, or the next target) may succeed."""
    if isinstance(error, UpstreamStatusError):
        return error.is_retryable
    return error.retryable


def counts_against_target(error: GatewayError) -> bool:
    """Whether the error is the target's fault (feeds cooldowns), not the client's."""
    if isinstance(error, UpstreamStatusError):
        return error.is_retryable
    return error.target_failure
