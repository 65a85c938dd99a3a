"""Google Gemini backends (Generative Language API, `v1beta`): chat requests translated to
`generateContent` / `streamGenerateContent?alt=sse` by `translate/gemini.py`, answers and
stream events translated back into OpenAI chat shape.

    POST {base_url}/v1beta/models/{model}:generateContent                   non-stream
    POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse     stream
    x-goog-api-key: {api_key}

Gemini ends a stream by closing the connection; there is no `[DONE]`. A clean close after
every candidate reported a `finishReason` (or the prompt was blocked) is a clean end; a close
before that is a cut answer, `UpstreamDisconnected` (SPEC 4.4). A clean close before any event
is an empty stream (SPEC 4.3), as on the OpenAI path.

Order inside: the provider (session, credentials, contract methods), error mapping, stream.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import orjson

from ..config.schema import BackendConfig
from ..errors import UpstreamDisconnected, UpstreamStatusError
from ..translate.gemini import StreamTranslator, request_to_gemini, response_to_chat
from . import http
from .base import Chunk, Headers, Operation, Reply
from .h1 import Response
from .sse import ServerSentEvent
from .stream import SSEStream


class GeminiProvider(http.HTTPBackend):
    """A backend speaking Gemini's REST API under `base_url` (the host root, or up to /v1beta).

    Chat only: legacy completions have no Gemini counterpart, and embeddings use another
    request and response family (`embedContent`), not mapped yet; `supports()` says so and
    the gateway answers 400 (or tries the model's next target).
    """

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        base = config.effective_base_url.rstrip("/")
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        self._models = base + "/models/"

    def supports(self, op: Operation) -> bool:
        return op is Operation.CHAT

    def _credentials(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key} if self.config.api_key else {}

    def _url(self, body: dict[str, Any], method: str) -> str:
        model = str(body.get("model") or "").removeprefix("models/")
        return self._models + quote(model, safe="-_.") + method

    async def complete(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> Reply:
        payload = orjson.dumps(request_to_gemini(body))
        url = self._url(body, ":generateContent")
        _, obj = await self._post(url, payload, status_error, headers)
        chat = response_to_chat(obj, str(body.get("model")), id_=_chat_id(obj), created=_now())
        return Reply(orjson.dumps(chat), chat)

    async def open_stream(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> GeminiStream:
        payload = orjson.dumps(request_to_gemini(body))
        url = self._url(body, ":streamGenerateContent?alt=sse")
        resp = await self._open(url, payload, status_error, headers)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        translator = StreamTranslator(
            str(body.get("model")), id_="chatcmpl-" + uuid.uuid4().hex[:24], created=_now()
        )
        return GeminiStream(self.name, resp, translator, include_usage)


def _now() -> int:
    return int(time.time())


def _chat_id(obj: dict[str, Any]) -> str:
    response_id = obj.get("responseId")
    return f"chatcmpl-{response_id}" if response_id else "chatcmpl-" + uuid.uuid4().hex[:24]


# Errors -----------------------------------------------------------------------------------

# Google's canonical status → the OpenAI error type a client expects beside the same HTTP code.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


def status_error(status: int, body: bytes, headers: Any) -> UpstreamStatusError:
    """The error for a Gemini status >= 400 (`{"error": {"code", "message", "status",
    "details"}}`): `status` becomes the code (lower case), the type follows the HTTP status,
    and a 429's wait comes from `Retry-After` or else from the body's `RetryInfo`."""
    message, code = f"upstream returned HTTP {status}", None
    details: list[Any] = []
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        error = payload[0].get("error")  # the stream endpoint wraps its error in an array
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        code = error.get("status") if isinstance(error.get("status"), str) else None
        if isinstance(error.get("details"), list):
            details = error["details"]
    reasons = {d.get("reason") for d in details if isinstance(d, dict)}
    if status == 400 and "API_KEY_INVALID" in reasons:
        status = 401  # Google reports a bad key as a 400; it is the gateway's credential
    retry_after = http.parse_retry_after(headers.get("retry-after"))
    if retry_after is None:
        retry_after = _retry_delay(details)
    return UpstreamStatusError(
        status,
        message,
        upstream_type=_TYPES.get(status, "invalid_request_error" if status < 500 else None),
        upstream_code=code.lower() if code else None,
        retry_after=retry_after,
    )


def _retry_delay(details: list[Any]) -> float | None:
    """Seconds from a `google.rpc.RetryInfo` detail (`"retryDelay": "37s"`)."""
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            if delay.endswith("s"):
                return http.parse_retry_after(delay[:-1])
    return None


# Stream -----------------------------------------------------------------------------------


class GeminiStream(SSEStream):
    """Reads Gemini `data:` events off one response, yielding translated chat chunks; the
    usage chunk goes out at the clean close, when the last usageMetadata is known."""

    __slots__ = ("_include_usage", "_translator")

    def __init__(
        self,
        backend: str,
        resp: Response,
        translator: StreamTranslator,
        include_usage: bool,
    ) -> None:
        super().__init__(backend, resp)
        self._translator = translator
        self._include_usage = include_usage

    def _event(self, event: ServerSentEvent, out: list[Chunk]) -> None:
        obj = self._json(event.data)
        if "error" in obj:
            raise self._error_event(obj["error"])
        chunk = self._translator.feed(obj)
        if chunk is not None:
            out.append(Chunk(chunk))

    def _closed(self) -> list[Chunk] | None:
        # Gemini ends a stream by closing it: clean only once every candidate has finished.
        translator = self._translator
        if translator.events and not translator.finished:
            raise UpstreamDisconnected(
                f"backend '{self._backend}' closed the stream before a finishReason"
            )
        self._clean = True
        usage = translator.usage_chunk() if self._include_usage and translator.events else None
        return [Chunk(usage)] if usage is not None else None
