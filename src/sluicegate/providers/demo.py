"""The built-in `demo` backend: answers locally by echoing the last user message, so a new user
can try the gateway (streaming included) without any provider key.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import orjson

from ..config.schema import BackendConfig, Timeouts
from ..errors import InvalidRequest
from .base import OPENAI_OPERATIONS, Chunk, Headers, Operation, Reply


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""


def _prompt_text(op: Operation, body: dict[str, Any]) -> tuple[str, int]:
    """The text to echo and the prompt's word count (the demo's notion of a token)."""
    if op is Operation.CHAT:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        echo = _text_of(users[-1].get("content")) if users else ""
        prompt_words = sum(len(_text_of(m.get("content")).split()) for m in messages)
        return echo, prompt_words
    prompt = body.get("prompt")
    text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt or []))
    return text, len(text.split())


class DemoProvider:
    """Echoes word by word; usage counts words."""

    def __init__(self, config: BackendConfig) -> None:
        self.name = config.name
        self.config = config

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    def supports(self, op: Operation) -> bool:
        return op in OPENAI_OPERATIONS

    async def complete(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> Reply:
        if op is Operation.EMBEDDINGS:
            obj = _embeddings(body)
        else:
            text, prompt_words = _prompt_text(op, body)
            words = text.split()
            obj = {
                "id": f"demo-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion" if op is Operation.CHAT else "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [_choice(op, " ".join(words))],
                "usage": _usage(prompt_words, len(words)),
            }
        return Reply(orjson.dumps(obj), obj)

    async def open_stream(
        self, op: Operation, body: dict[str, Any], headers: Headers | None = None
    ) -> DemoStream:
        if op is Operation.EMBEDDINGS:
            raise InvalidRequest("embeddings cannot be streamed", param="stream")
        text, prompt_words = _prompt_text(op, body)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return DemoStream(op, str(body.get("model")), text.split(), prompt_words, include_usage)

    async def aclose(self) -> None:
        return None


def _choice(op: Operation, text: str) -> dict[str, Any]:
    if op is Operation.CHAT:
        message = {"role": "assistant", "content": text}
        return {"index": 0, "message": message, "finish_reason": "stop"}
    return {"index": 0, "text": text, "finish_reason": "stop"}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else list(raw or [])
    data = []
    for i, item in enumerate(inputs):
        digest = hashlib.sha256(str(item).encode()).digest()
        data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]})
    words = sum(len(str(item).split()) for item in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": {"prompt_tokens": words, "total_tokens": words},
    }


class DemoStream:
    """One chunk per word, then the finish chunk and (if asked) the usage chunk."""

    def __init__(
        self, op: Operation, model: str, words: list[str], prompt_words: int, include_usage: bool
    ) -> None:
        self._frames = self._build(op, model, words, prompt_words, include_usage)
        self._pos = 0

    @staticmethod
    def _build(
        op: Operation, model: str, words: list[str], prompt_words: int, include_usage: bool
    ) -> list[dict[str, Any]]:
        base = {
            "id": f"demo-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk" if op is Operation.CHAT else "text_completion",
            "created": int(time.time()),
            "model": model,
        }

        def piece(text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
            if op is Operation.CHAT:
                delta: dict[str, Any] = {"role": "assistant"} if first else {}
                if text is not None:
                    delta["content"] = text
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": text or "", "finish_reason": finish}
            return {**base, "choices": [choice]}

        frames = [piece(w if i == 0 else " " + w, None, i == 0) for i, w in enumerate(words)]
        frames.append(piece(None if frames else "", "stop", not frames))
        if include_usage:
            frames.append({**base, "choices": [], "usage": _usage(prompt_words, len(words))})
        return frames

    async def read(self) -> list[Chunk] | None:
        if self._pos >= len(self._frames):
            return None
        frame = self._frames[self._pos]
        self._pos += 1
        return [Chunk(frame)]

    async def aclose(self) -> None:
        return None
