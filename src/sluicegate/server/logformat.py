"""The two shapes of a process log line (`logging.format`): text for people, JSON for machines.

Both run on the logging thread (`server/logs.py`), so what they cost is off the event loop.
A message object with a `log_fields()` method (the access line, `hooks/access_log.py`) is
rendered by the formatter: `str(message)` in text, `short()` plus its fields as keys in JSON.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson


def timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 UTC with milliseconds: 2026-11-30T18:04:13.123Z."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-11-30T18:04:13.123Z INFO sluicegate.access POST /v1/chat/completions 200 ...`;
    a traceback follows on its own lines, as Python prints it."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        trace = self._trace(record)
        return f"{line}\n{trace}" if trace else line

    def _trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


class JsonFormatter(TextFormatter):
    """One JSON object per line: `ts`, `level`, `logger`, `message`, `pid`, then the message's
    own fields, then `exc` (the traceback as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.msg
        fields = getattr(message, "log_fields", None)
        line: dict[str, Any] = {
            "ts": timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message.short() if fields is not None else record.getMessage(),
            "pid": record.process,
        }
        if fields is not None:
            for key, value in fields().items():
                line.setdefault(key, value)
        trace = self._trace(record)
        if trace:
            line["exc"] = trace
        return orjson.dumps(line, default=str).decode()
