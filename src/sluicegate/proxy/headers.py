"""Response header sets and the few request headers the hot path reads, in one header scan."""

from __future__ import annotations

from ..types import Headers

JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class RequestHeaders:
    """The request headers sluicegate looks at, found in a single pass over the ASGI list."""

    __slots__ = (
        "authorization",
        "cache_control",
        "content_length",
        "request_id",
        "traceparent",
        "tracestate",
        "x_api_key",
    )

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.authorization: bytes | None = None
        self.x_api_key: bytes | None = None
        self.request_id: bytes | None = None
        self.content_length: bytes | None = None
        self.traceparent: bytes | None = None
        self.tracestate: bytes | None = None
        self.cache_control: bytes | None = None
        for name, value in raw:
            if name == b"authorization":
                self.authorization = value
            elif name == b"x-api-key":
                self.x_api_key = value
            elif name == b"x-request-id":
                self.request_id = value
            elif name == b"content-length":
                self.content_length = value
            elif name == b"traceparent":
                self.traceparent = value
            elif name == b"tracestate":
                self.tracestate = value
            elif name == b"cache-control":
                self.cache_control = value


def json_headers(request_id: str, length: int, extra: Headers | None = None) -> Headers:
    headers = [
        JSON_TYPE,
        (b"content-length", b"%d" % length),
        (b"x-request-id", request_id.encode()),
    ]
    if extra:
        headers.extend(extra)
    return headers


def overhead_header(seconds: float) -> tuple[bytes, bytes]:
    return (b"x-sluicegate-overhead-ms", b"%.3f" % (seconds * 1000))
