"""The request log writer: Completions become `request_logs` rows in batches, off the request
path; none is lost when the database is away, and a `kill -9` loses at most the rows of the
last `durable_after` seconds.

    publish (request task) ──► deque ──► writer task ──► insert_rows ──► database
                                              │ StorageUnavailable, or an insert still
                                              ▼ running at its deadline
                                   spool/requests-*.jsonl ──► replayed when the database is back

The subscriber only appends to a deque (no I/O, no conversion, no clock); the writer task
converts and inserts up to `batch_size` rows at a time. When an insert fails because the
database is unreachable, the batch goes to an append-only spool file on local disk (see
`log_spool`), so memory stays bounded; spool files are replayed, oldest first, as soon as the
database answers again, and at the next start. `close()` flushes everything.

The durability bound, without a clock on the hot path: a Completion knows when its request
finished (`created_at` + `latency_ms`, wall clock), and the deque is in finishing order, so its
head is its oldest row. Each database operation is awaited against a deadline:

    row finishes ─► waits ≤ flush interval ─► insert under way ─┬─ committed: done
                    (≤ bound/4)                                  └─ still running when its
                                                                    oldest row is bound/2 old:
                                                                    batch appended to the spool,
                                                                    and rows waiting behind it
                                                                    that reach bound/2 as well

The other half of the bound covers the spool write and a busy event loop. An insert that
overran is not cancelled: its batch is journaled to a file of its own, removed once the insert
commits; if the process is killed first, the replay at the next start skips whatever did
commit, by `row_key`. In the healthy case nothing is written to disk, however steady the
traffic (a deque that never empties is not old: its rows are).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StorageUnavailable
from ..record import Completion
from ..storage.catalog import touch_keys
from ..storage.db import Database
from ..storage.request_log import insert_rows, row_from_completion
from .log_spool import Spool

log = logging.getLogger("sluicegate.log")

T = TypeVar("T")

MAX_BATCH = 5000  # rows per INSERT when catching up
MAX_BACKLOG = 50_000  # completions held in memory at most; beyond, they are spooled


def _finished_at(completion: Completion) -> float:
    """When the request of `completion` ended (wall clock)."""
    return completion.created_at + completion.latency_ms / 1000


class _Batch:
    """Rows taken for an insert, and the moment (wall clock) they must be on disk if it has not
    committed."""

    __slots__ = ("deadline", "journal", "rows")

    def __init__(self, rows: list[dict[str, Any]], deadline: float) -> None:
        self.rows = rows
        self.deadline = deadline
        self.journal: Path | None = None  # its spool file, once the insert overran


class RequestLogWriter:
    def __init__(
        self,
        db: Database,
        spool_dir: Path,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        retry_interval: float = 1.0,
        durable_after: float = 1.0,
        connected: bool = True,
    ) -> None:
        self._db = db
        self._spool = Spool(spool_dir)
        self._batch_size = batch_size
        # A row waits in the deque at most a quarter of the bound, an insert gets until half
        # of it has passed; the rest is the spool write's margin.
        self._flush_interval = min(flush_interval, durable_after / 4)
        self._overrun_after = durable_after / 2
        self._retry_interval = retry_interval
        self._pending: deque[Completion] = deque()
        # Rows taken from the deque because they reached the bound while an insert ran: on
        # disk already (their journal), inserted from memory next, the journal then removed.
        self._carried: list[_Batch] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # False until the gateway has migrated the database: before that an insert could hit
        # a schema that does not exist yet, so rows go to the spool.
        self._connected = connected
        self._db_down_since: float | None = None
        self._next_retry = 0.0
        self._outage_id = time.time_ns()  # names this outage's spool file
        self.rows_spooled = 0
        self.inserts_overrun = 0

    # Subscriber: called in the request's task; must stay O(1) and never raise.
    def __call__(self, completion: Completion) -> None:
        self._pending.append(completion)
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._spool.hold()
        self._spool.recover_interrupted()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="request-log")

    def mark_connected(self) -> None:
        """The database is migrated and reachable: write to it, replay the spool."""
        self._connected = True
        self._wakeup.set()

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
        while self._pending or self._carried:
            await self._flush_batch()
        self._spool.release()

    async def flush(self) -> None:
        """Write everything pending now (tests and shutdown)."""
        while self._pending or self._carried:
            await self._flush_batch()
        if self._db_down_since is None and self._connected:
            await self._replay_spool()

    async def _run(self) -> None:
        if self._connected:
            await self._replay_spool()
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                while self._pending or self._carried:
                    await self._flush_batch()
                if (
                    self._connected
                    and not self._closing
                    and time.monotonic() >= self._next_retry
                    and (self._db_down_since is not None or self._spool.has_files())
                ):
                    await self._replay_spool()
            except Exception:  # a bug here must not stop logging for good
                log.exception("request log writer failed; retrying")

    async def _flush_batch(self) -> None:
        if self._carried:
            await self._insert_carried(self._carried.pop(0))
            return
        # A backlog (the gateway's core busy with traffic) is written in bigger statements,
        # which cost far less per row, so the writer catches up instead of falling behind.
        size = self._batch_size if len(self._pending) < 4 * self._batch_size else MAX_BATCH
        if len(self._pending) > MAX_BACKLOG:
            # Still behind: the oldest rows wait on disk rather than in memory.
            size = len(self._pending) - MAX_BACKLOG + self._batch_size
            batch = [self._pending.popleft() for _ in range(size)]
            await self._spool_rows([row_from_completion(c) for c in batch])
            return
        batch = [self._pending.popleft() for _ in range(min(size, len(self._pending)))]
        rows = [row_from_completion(c) for c in batch]
        if self._db_down_since is None and self._connected:
            taken = _Batch(rows, _finished_at(batch[0]) + self._overrun_after)
            try:
                await self._guarded(self._insert(batch, rows), taken)
            except StorageUnavailable as exc:
                self._enter_outage(exc)
            except Exception:
                # Unforeseen (a driver error nobody mapped, a bug): the rows are kept, on
                # disk; a replay the database refuses for good sets them aside as .failed.
                log.exception("request log: insert failed; %d rows spooled", len(rows))
            else:
                if taken.journal is not None:  # committed after all: nothing to replay
                    await asyncio.to_thread(taken.journal.unlink, missing_ok=True)
                return
            if taken.journal is not None:
                return  # on disk already, replayed with the rest
        await self._spool_rows(rows)

    async def _insert_carried(self, carried: _Batch) -> None:
        """Rows already journaled: inserted now, their file removed once they are in; if the
        database is away, the file is the spool and is replayed with the rest."""
        if self._db_down_since is not None or not self._connected:
            return
        try:
            await self._guarded(insert_rows(self._db, carried.rows), carried)
        except StorageUnavailable as exc:
            self._enter_outage(exc)
        except Exception:
            log.exception(
                "request log: insert failed; %d rows kept in the spool", len(carried.rows)
            )
        else:
            if carried.journal is not None:
                await asyncio.to_thread(carried.journal.unlink, missing_ok=True)

    async def _insert(self, batch: list[Completion], rows: list[dict[str, Any]]) -> None:
        await insert_rows(self._db, rows)
        await self._touch_keys(batch)

    async def _touch_keys(self, batch: list[Completion]) -> None:
        """`last_used_at` of the keys in this batch: one UPDATE per key, off the request path."""
        last_used: dict[str, datetime] = {}
        for completion in batch:
            if completion.key_id is not None:
                last_used[completion.key_id] = datetime.fromtimestamp(completion.created_at, UTC)
        if last_used:
            with contextlib.suppress(StorageUnavailable):
                await touch_keys(self._db, last_used)

    async def _guarded(self, operation: Awaitable[T], batch: _Batch | None = None) -> T:
        """Await a database operation without letting a row outstay the durability bound.

        While it runs: `batch` (the rows it is inserting) goes to the spool at its deadline,
        and rows arriving in the deque meanwhile go there before theirs. The operation itself
        is never cancelled; its result or exception is the caller's.
        """
        task = asyncio.ensure_future(operation)
        while True:
            now = time.time()
            if self._pending:
                wake = _finished_at(self._pending[0]) + self._overrun_after
            else:
                wake = now + self._flush_interval
            if batch is not None and batch.journal is None:
                wake = min(wake, batch.deadline)
            done, _ = await asyncio.wait({task}, timeout=max(0.0, wake - now))
            if done:
                return task.result()
            now = time.time()
            if batch is not None and batch.journal is None and now >= batch.deadline:
                self.inserts_overrun += 1
                log.warning(
                    "request log: an insert of %d rows overran the %gs bound; journaling "
                    "them to the spool (the database may be locked or stuck)",
                    len(batch.rows),
                    self._overrun_after * 2,
                )
                # Its own file, without fsync (a kill is the risk here, not power loss): it is
                # removed as soon as the insert commits.
                batch.journal = await asyncio.to_thread(
                    self._spool.append, batch.rows, time.time_ns(), fsync=False
                )
            overdue = _finished_at(self._pending[0]) + self._overrun_after if self._pending else 0
            if self._pending and time.time() >= overdue:
                # Behind a slow insert: on disk now (no fsync: a kill is the risk, not power
                # loss), inserted from memory right after it; never read back unless killed.
                waiting = _Batch([row_from_completion(c) for c in self._pending], math.inf)
                self._pending.clear()
                waiting.journal = await asyncio.to_thread(
                    self._spool.append, waiting.rows, time.time_ns(), fsync=False
                )
                self._carried.append(waiting)

    def _enter_outage(self, exc: StorageUnavailable) -> None:
        self._db_down_since = time.monotonic()
        self._next_retry = self._db_down_since + self._retry_interval
        self._outage_id = time.time_ns()
        log.warning(
            "request log: database unavailable (%s); spooling to %s", exc, self._spool.folder
        )

    async def _spool_rows(self, rows: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._spool.append, rows, self._outage_id)
        self.rows_spooled += len(rows)

    async def _replay_spool(self) -> None:
        for path in self._spool.replayable():
            claimed = self._spool.claim(path)
            if claimed is None:
                continue
            rows = await asyncio.to_thread(self._spool.read, claimed)
            start = 0
            try:
                for start in range(0, len(rows), self._batch_size):
                    chunk = rows[start : start + self._batch_size]
                    await self._guarded(insert_rows(self._db, chunk))
            except StorageUnavailable:
                # Keep what is left for the next try (rows already written are not repeated).
                await asyncio.to_thread(self._spool.keep_rest, claimed, rows[start:])
                self._db_down_since = self._db_down_since or time.monotonic()
                self._next_retry = time.monotonic() + self._retry_interval
                return
            except Exception:
                # Rows the database refuses would be retried forever: set them aside, loudly.
                log.exception(
                    "request log: spool file %s cannot be written; kept as .failed", path.name
                )
                self._spool.set_aside(claimed)
                continue
            claimed.unlink(missing_ok=True)
        if self._db_down_since is not None:
            log.warning("request log: database back; spool replayed")
        self._db_down_since = None
