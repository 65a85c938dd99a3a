"""OpenAI-compatible backends (OpenAI, vLLM, Ollama, llama.cpp, ...): requests go out as they
came in, answers come back as the upstream's own bytes.

Order inside: the provider (session, credentials, contract methods), then the stream reader.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..config.schema import BackendConfig
from . import http
from .base import OPENAI_OPERATIONS, Chunk, Headers, Operation, Reply
from .sse import ServerSentEvent
from .stream import SSEStream

_DONE = b"[DONE]"


class OpenAIProvider(http.HTTPBackend):
    """A backend speaking the OpenAI HTTP API under `base_url` (which ends in `/v1`)."""

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        self._base_url = config.effective_base_url.rstrip("/")
        self._ops = OPENAI_OPERATIONS
        if config.responses == "native":  # the config allows it on openai backends only
            self._ops = OPENAI_OPERATIONS | {Operation.RESPONSES}
        self._urls = {op: self._base_url + op.value for op in self._ops}

    def supports(self, op: Operation) -> bool:
        return op in self._ops

    def _credentials(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    def _url(self, op: Operation, body: dict[str, Any]) -> str:
        return self._urls[op]

    async def complete(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> Reply:
        payload, obj = await self._post(self._url(op, body), orjson.dumps(body), headers=headers)
        return Reply(payload, obj)

    async def open_stream(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> OpenAIStream:
        resp = await self._open(self._url(op, body), orjson.dumps(body), headers=headers)
        return OpenAIStream(self.name, resp)


class OpenAIStream(SSEStream):
    """Reads OpenAI `data:` events off one response; `[DONE]` and EOF both end it cleanly."""

    __slots__ = ()

    def _event(self, event: ServerSentEvent, out: list[Chunk]) -> None:
        data = event.data
        if data == _DONE:
            self._clean = True
            return
        obj = self._json(data)
        if event.event == "error" or "error" in obj:
            raise self._error_event(obj.get("error", obj))
        out.append(Chunk(obj, data))
