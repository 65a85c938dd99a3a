"""The access log: one `sluicegate.access` line per finished inference request, from its
Completion.

The request's task pays only for a logging call that carries the frozen Completion: the
fields, the text line or the JSON object are built where the record is written, on the
logging thread (`server/logs.py`), never on the event loop.

    after(completion) ─► log.info(AccessLine(completion)) ─► queue ─► logging thread:
                                                                    str(line)          (text)
                                                                    line.log_fields()  (json)

No key, header or body is in a Completion's fields used here, so no secret can reach the line:
the user is its name and id, the key its id. The error message is left out too (an upstream's
error text may quote what it was sent); the request log row, found by `request_id`, has it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ..record import Completion
from .base import Hook

log = logging.getLogger("sluicegate.access")

# Inference endpoints answer POST only; any other method is refused before a request context
# (and so a Completion) exists, so every access line is a POST.
METHOD = "POST"


class AccessLog(Hook):
    """The built-in access-log hook (`logging.access_log`, on by default)."""

    def after(self, completion: Completion) -> None:
        if log.isEnabledFor(logging.INFO):
            # `log.info` would also look up the caller's file and line in the stack (~1 µs),
            # which every access line would have the same.
            log.handle(
                log.makeRecord(
                    log.name, logging.INFO, __file__, 0, AccessLine(completion), None, None
                )
            )


class AccessLine:
    """A log message rendered lazily: `str()` is the text line, `log_fields()` the JSON keys."""

    __slots__ = ("completion",)

    def __init__(self, completion: Completion) -> None:
        self.completion = completion

    def short(self) -> str:
        """The JSON line's `message`: what a log viewer shows in its one-line list."""
        c = self.completion
        return f"{METHOD} {c.path} {c.status_code}"

    def log_fields(self) -> dict[str, Any]:
        c = self.completion
        usage = c.usage
        return {
            "request_id": c.request_id,
            "method": METHOD,
            "path": c.path,
            "status": c.status_code,
            "error_type": c.error_type,
            "user": c.user_name,
            "user_id": c.user_id,
            "key_id": c.key_id,
            "model": c.model,
            "resolved_model": c.resolved_model,
            "backend": c.backend,
            "stream": c.stream,
            "latency_ms": round(c.latency_ms, 1),
            "ttft_ms": None if c.ttft_ms is None else round(c.ttft_ms, 1),
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cost_usd": round(c.cost_usd, 8),
            "attempts": len(c.attempts),
            "client_ip": c.client_ip,
        }

    def __str__(self) -> str:
        c = self.completion
        usage = c.usage
        ttft = "-" if c.ttft_ms is None else f"{c.ttft_ms:.1f}"
        return (
            f"{METHOD} {c.path} {c.status_code} {c.error_type or '-'} id={c.request_id} "
            f"user={_shown(c.user_name)} user_id={_shown(c.user_id)} key_id={_shown(c.key_id)} "
            f"model={_shown(c.model)} backend={_shown(c.backend)} "
            f"resolved_model={_shown(c.resolved_model)} stream={'yes' if c.stream else 'no'} "
            f"latency_ms={c.latency_ms:.1f} ttft_ms={ttft} "
            f"tokens={usage.prompt_tokens}+{usage.completion_tokens} cost_usd={c.cost_usd:.6g} "
            f"attempts={len(c.attempts)} ip={_shown(c.client_ip)}"
        )


def _shown(value: str | None) -> str:
    """A value of the text line: `-` for none; JSON-quoted when it could be mistaken for more
    than one value or line (a model name comes from the client and may hold anything)."""
    if not value:
        return "-"
    if value == "-" or not value.isprintable() or any(ch in value for ch in ' "=\\'):
        return orjson.dumps(value).decode()
    return value
