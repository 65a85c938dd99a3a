"""The request log writer: Completions become `request_logs` rows in batches, off the request
path, and none is lost when the database is away.

    publish (request task) ──► deque ──► writer task ──► insert_rows ──► database
                                              │ StorageUnavailable
                                              ▼
                                   spool/requests-*.jsonl ──► replayed when the database is back

The subscriber only appends to a deque (no I/O, no conversion); the writer task converts and
inserts up to `batch_size` rows at a time. When an insert fails because the database is
unreachable, the batch goes to an append-only spool file on local disk (written in a thread),
so memory stays bounded by what arrives between two flushes; spool files are replayed, oldest
first, as soon as an insert succeeds again, and at the next start. `close()` flushes
everything, to the database or to the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..record import Completion
from ..storage.catalog import touch_keys
from ..storage.db import Database, StorageUnavailable
from ..storage.request_log import insert_rows, row_from_completion

log = logging.getLogger("sluicegate.log")

MAX_BATCH = 5000  # rows per INSERT when catching up
MAX_BACKLOG = 50_000  # completions held in memory at most; beyond, they are spooled


class RequestLogWriter:
    def __init__(
        self,
        db: Database,
        spool_dir: Path,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        retry_interval: float = 1.0,
        connected: bool = True,
    ) -> None:
        self._db = db
        self._spool_dir = spool_dir
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_interval = retry_interval
        self._pending: deque[Completion] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # False until the gateway has migrated the database: before that an insert could hit
        # a schema that does not exist yet, so rows go to the spool.
        self._connected = connected
        self._db_down_since: float | None = None
        self._outage_id = time.time_ns()  # names this outage's spool file
        self.rows_spooled = 0

    # Subscriber: called in the request's task; must stay O(1) and never raise.
    def __call__(self, completion: Completion) -> None:
        self._pending.append(completion)
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        self._recover_interrupted_replays()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="request-log")

    def mark_connected(self) -> None:
        """The database is migrated and reachable: write to it, replay the spool."""
        self._connected = True
        self._wakeup.set()

    def _recover_interrupted_replays(self) -> None:
        """Spool files a crashed process was replaying go back in line (those of a living
        process sharing the folder are left to it)."""
        for claimed in self._spool_dir.glob("requests-*.jsonl.replaying-*"):
            pid = int(claimed.name.rsplit("-", 1)[1])
            if not _alive(pid):
                with contextlib.suppress(FileNotFoundError):
                    claimed.rename(claimed.with_name(claimed.name.split(".replaying-")[0]))

    async def close(self) -> None:
        """Flush every pending row (to the database, else to the spool), then stop.

        The writer task is asked to finish, never cancelled: a cancel in the middle of an
        insert would lose the batch it had already taken from the queue.
        """
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        while self._pending:
            await self._flush_batch()

    async def flush(self) -> None:
        """Write everything pending now (tests and shutdown)."""
        while self._pending:
            await self._flush_batch()
        if self._db_down_since is None and self._connected:
            await self._replay_spool()

    async def _run(self) -> None:
        if self._connected:
            await self._replay_spool()
        while not self._closing:
            interval = self._flush_interval if self._db_down_since is None else self._retry_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                while self._pending:
                    await self._flush_batch()
                if (
                    self._connected
                    and not self._closing
                    and (self._db_down_since is not None or self._has_spool())
                ):
                    await self._replay_spool()
            except Exception:  # a bug here must not stop logging for good
                log.exception("request log writer failed; retrying")

    async def _flush_batch(self) -> None:
        # A backlog (the gateway's core busy with traffic) is written in bigger statements,
        # which cost far less per row, so the writer catches up instead of falling behind.
        size = self._batch_size if len(self._pending) < 4 * self._batch_size else MAX_BATCH
        if len(self._pending) > MAX_BACKLOG:
            # Still behind: the oldest rows wait on disk rather than in memory.
            size = len(self._pending) - MAX_BACKLOG + self._batch_size
            batch = [self._pending.popleft() for _ in range(size)]
            await asyncio.to_thread(self._spool, [row_from_completion(c) for c in batch])
            self.rows_spooled += len(batch)
            return
        batch = [self._pending.popleft() for _ in range(min(size, len(self._pending)))]
        rows = [row_from_completion(c) for c in batch]
        if self._db_down_since is None and self._connected:
            try:
                await insert_rows(self._db, rows)
                await self._touch_keys(batch)
                return
            except StorageUnavailable as exc:
                self._db_down_since = time.monotonic()
                self._outage_id = time.time_ns()
                log.warning(
                    "request log: database unavailable (%s); spooling to %s", exc, self._spool_dir
                )
        await asyncio.to_thread(self._spool, rows)
        self.rows_spooled += len(rows)

    async def _touch_keys(self, batch: list[Completion]) -> None:
        """`last_used_at` of the keys in this batch: one UPDATE per key, off the request path."""
        last_used: dict[str, datetime] = {}
        for completion in batch:
            if completion.key_id is not None:
                last_used[completion.key_id] = datetime.fromtimestamp(completion.created_at, UTC)
        if last_used:
            with contextlib.suppress(StorageUnavailable):
                await touch_keys(self._db, last_used)

    # Spool: JSON lines, one file per writer process and outage, replayed oldest first.

    def _has_spool(self) -> bool:
        return any(self._spool_dir.glob("requests-*.jsonl"))

    def _spool(self, rows: list[dict[str, Any]]) -> None:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        path = self._spool_dir / f"requests-{os.getpid()}-{self._outage_id}.jsonl"
        data = b"".join(orjson.dumps(_portable(row)) + b"\n" for row in rows)
        with open(path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    async def _replay_spool(self) -> None:
        files = sorted(self._spool_dir.glob("requests-*.jsonl"), key=lambda p: p.stat().st_mtime)
        for path in files:
            # Rename first, so a second process replaying the same folder cannot take it too.
            claimed = path.with_name(f"{path.name}.replaying-{os.getpid()}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue
            rows = await asyncio.to_thread(_read_spool, claimed)
            try:
                for start in range(0, len(rows), self._batch_size):
                    await insert_rows(self._db, rows[start : start + self._batch_size])
            except StorageUnavailable:
                # Keep what is left for the next try (rows already written are not repeated).
                rest = path.with_name(f"requests-rest-{time.time_ns()}.jsonl")
                await asyncio.to_thread(_rewrite, claimed, rest, rows[start:])
                self._db_down_since = self._db_down_since or time.monotonic()
                return
            except Exception:
                # Rows the database refuses would be retried forever: set them aside, loudly.
                log.exception(
                    "request log: spool file %s cannot be written; kept as .failed", path.name
                )
                claimed.rename(path.with_suffix(".failed"))
                continue
            claimed.unlink(missing_ok=True)
        if self._db_down_since is not None:
            log.warning("request log: database back; spool replayed")
        self._db_down_since = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _portable(row: dict[str, Any]) -> dict[str, Any]:
    created = row.get("created_at")
    if hasattr(created, "timestamp"):
        row = {**row, "created_at": created.timestamp()}
    return row


def _read_spool(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = orjson.loads(line)
            if isinstance(row.get("created_at"), (int, float)):
                row["created_at"] = datetime.fromtimestamp(row["created_at"], UTC)
            rows.append(row)
    return rows


def _rewrite(claimed: Path, path: Path, rows: list[dict[str, Any]]) -> None:
    data = b"".join(orjson.dumps(_portable(row)) + b"\n" for row in rows)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(path)
    claimed.unlink(missing_ok=True)
