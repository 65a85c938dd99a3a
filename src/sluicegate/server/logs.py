"""Process logging (`logging.format`, `logging.level`): every record of sluicegate, uvicorn and
the libraries, as text or JSON lines on stderr, written by a thread so that no request waits
on a write.

    any thread ─► logger ─► root: OffLoopHandler ─► queue ─────────► Writer thread, every
                 (level)        (keeps the record;    (10,000 waiting:  50 ms: format, write
                                 formats nothing)      drop, count,     what piled up in one
                                                       report later)    write to stderr

uvicorn applies `log_config()` with `logging.config.dictConfig` in the supervisor and again in
every worker it spawns (the dict travels with the pickled `uvicorn.Config`), so one place sets
up every process of `sluicegate serve`; each process's writer empties the queue when the
process exits (server/run.py makes workers exit rather than die of SIGTERM). A full queue
(stderr not drained) drops records rather than block the event loop, and says how many it
dropped once it has room again.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

from ..config.schema import LoggingConfig
from .logformat import JsonFormatter, TextFormatter

QUEUE_RECORDS = 10_000
STOP_SECONDS = 5.0
FLUSH_SECONDS = 0.05
WRITE_BATCH = 256
# Formatting is Python work done holding the GIL: a request arriving during a 256-line batch
# (~4 ms) waited for it; the writer lets it go every this many lines (~0.25 ms).
LINES_PER_GIL_TURN = 16
# Loggers whose INFO and DEBUG records `logging.level` lets through; every other library's
# logger stays at WARNING, so `debug` is ours and uvicorn's detail, not asyncio's or aiohttp's.
OWN_LOGGERS = ("sluicegate", "uvicorn", "uvicorn.error")
FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}


def log_config(config: LoggingConfig) -> dict[str, Any]:
    """The `logging.config.dictConfig` document for uvicorn's `log_config`."""
    level = config.level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "sluicegate": {"()": f"{__name__}.off_loop_handler", "line_format": config.format}
        },
        "root": {
            "handlers": ["sluicegate"],
            "level": max(logging.WARNING, logging.getLevelName(level)),
        },
        "loggers": {
            **{name: {"level": level, "handlers": [], "propagate": True} for name in OWN_LOGGERS},
            # Replaced by sluicegate.access (hooks/access_log.py).
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def off_loop_handler(line_format: str) -> logging.Handler:
    """The root handler of this process, with its writer thread started (stopped, after
    writing what is queued, when the process exits)."""
    records = RecordQueue()
    writer = Writer(records, FORMATTERS[line_format](), sys.stderr)
    writer.start()
    atexit.register(writer.stop)
    return OffLoopHandler(records)


class RecordQueue:
    """The records waiting for the writer: a deque the writer drains on its own clock.

    A put is one append (atomic, no lock) and wakes nobody. A queue the writer blocks on
    (`SimpleQueue`) woke its thread on every put: a futex call, and then the thread wanting the
    GIL back, for each access line; at c64 that cost ~6 % of the CPU (decision 43).
    """

    __slots__ = ("_items", "_wake")

    def __init__(self) -> None:
        self._items: deque[logging.LogRecord | None] = deque()
        self._wake = threading.Event()

    def put(self, record: logging.LogRecord) -> None:
        self._items.append(record)

    def qsize(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Make the writer write what is queued now, and end."""
        self._items.append(None)
        self._wake.set()

    def wait(self) -> None:
        """Until the next flush is due (or the queue closed)."""
        self._wake.wait(FLUSH_SECONDS)

    def take(self, limit: int) -> list[logging.LogRecord | None]:
        items = self._items
        batch = []
        while items and len(batch) < limit:
            batch.append(items.popleft())
        return batch


class Writer(threading.Thread):
    """The thread that formats queued records and writes them in order, until it takes None:
    every FLUSH_SECONDS, what has piled up goes out in a few writes (many lines a syscall at
    thousands of requests a second, rather than one each)."""

    def __init__(self, records: RecordQueue, formatter: logging.Formatter, stream: TextIO) -> None:
        super().__init__(name="sluicegate-log-writer", daemon=True)
        self.records = records
        self.formatter = formatter
        self.stream = stream

    def run(self) -> None:
        while True:
            self.records.wait()
            while batch := self.records.take(WRITE_BATCH):
                lines = []
                for start in range(0, len(batch), LINES_PER_GIL_TURN):
                    if start:
                        time.sleep(0)  # offers the GIL to the event loop's thread
                    chunk = batch[start : start + LINES_PER_GIL_TURN]
                    lines += [self._line(record) for record in chunk if record is not None]
                if lines:
                    with contextlib.suppress(OSError, ValueError):  # stderr closed: nowhere
                        self.stream.write("\n".join(lines) + "\n")
                        self.stream.flush()
                if None in batch:
                    return

    def _line(self, record: logging.LogRecord) -> str:
        try:
            return self.formatter.format(record)
        except Exception as exc:  # a log call whose arguments do not fit its format
            return self.formatter.format(
                logging.makeLogRecord(
                    {
                        "name": "sluicegate.logging",
                        "levelno": logging.ERROR,
                        "levelname": "ERROR",
                        "msg": f"could not format a record of {record.name} "
                        f"({record.pathname}:{record.lineno}): {exc!r}",
                    }
                )
            )

    def stop(self) -> None:
        """Write what is queued, then end; bounded, so a stderr nobody reads cannot keep the
        process from exiting."""
        self.records.close()
        self.join(STOP_SECONDS)


class OffLoopHandler(logging.Handler):
    """Puts records on the writer thread's queue: the message's formatting, the access line,
    a traceback (read from source files) are made on that thread.

    The queue is bounded here by its size; no handler lock is taken either, as a put is
    thread-safe and a lost count of dropped records would only blur the warning.
    """

    def __init__(self, records: RecordQueue) -> None:
        super().__init__()
        self.records = records
        self.dropped = 0

    def handle(self, record: logging.LogRecord) -> bool:
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record: logging.LogRecord) -> None:
        if record.args:
            # Arguments may be mutable objects the caller changes next: merge them now (cheap;
            # these records are rare). The access line has none: it carries a frozen record.
            # A call whose arguments do not fit its format fails on the writer thread instead
            # (which logs that), never in the caller.
            with contextlib.suppress(Exception):
                record.msg, record.args = record.getMessage(), None
        if self.dropped and self._put(self._dropped_record()):
            self.dropped = 0
        if not self._put(record):
            self.dropped += 1

    def _put(self, record: logging.LogRecord) -> bool:
        if self.records.qsize() >= QUEUE_RECORDS:
            return False
        self.records.put(record)
        return True

    def _dropped_record(self) -> logging.LogRecord:
        return logging.LogRecord(
            "sluicegate.logging",
            logging.WARNING,
            __file__,
            0,
            "stderr was not read fast enough: dropped %d log records",
            (self.dropped,),
            None,
        )
