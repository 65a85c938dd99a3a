"""What a `kill -9` of the gateway can lose (docs/request-log.md): at most the rows of requests
that finished within the last `logging.durable_after_seconds`.

- SIGKILL of `sluicegate serve` in the middle of steady traffic from several clients; restarted
  on the same database and spool folder, every request that finished more than the bound
  (plus SLACK) before the kill has its row, exactly once.
- The same with the database's write lock held by another connection (SQLite) or the table
  locked (PostgreSQL) when the kill comes: the stuck insert's rows and those queued behind it
  survive through the spool, and the restart writes each once.

Times are the client's: the moment a response was fully received, which is after the gateway
finished the request, so a row counted as "old enough" really is.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from faults.test_log_durability import (
    EXPECTED_STATUS,
    PostgresCluster,
    _pg_connect,
    config_dict,
    send,
    serve,
    serve_log,
    spool_files,
)
from faults.test_log_durability import cluster as cluster  # the fixture
from support import MockUpstream, wait_until

DURABLE_AFTER = 1.0
# Between the client's clock read and the gateway's: publishing the Completion after the last
# byte went out, the kill's own latency, and a loaded 2-core machine's scheduling.
SLACK = 0.5
KINDS = ["ok", "stream", "ok", "auth", "invalid"]


class Clients:
    """Steady traffic from several threads until the gateway dies or `stop()`; records each
    request's id and the monotonic time its response was fully received."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.prefix = "kill-" + uuid.uuid4().hex[:10]
        self.done: list[tuple[str, float]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def start(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=15) as client:
            index = 0
            while not self._stop.is_set():
                kind = KINDS[(index + n) % len(KINDS)]
                request_id = f"{self.prefix}-{n}-{index}-{kind}"
                try:
                    status = send(client, kind, request_id)
                except httpx.TransportError:
                    return  # the gateway was killed
                except BaseException as exc:
                    self.errors.append(exc)
                    return
                received = time.monotonic()
                if status != EXPECTED_STATUS[kind]:
                    self.errors.append(AssertionError(f"{request_id}: {status}"))
                with self._lock:
                    self.done.append((request_id, received))
                index += 1
                self._stop.wait(0.005)

    def count(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for _, received in self.done if received >= since)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)
            assert not thread.is_alive(), "client thread did not finish"
        assert not self.errors, self.errors[:5]

    def finished_before(self, moment: float) -> tuple[set[str], set[str]]:
        """Request ids answered before `moment`, and the others."""
        old = {rid for rid, received in self.done if received < moment}
        return old, {rid for rid, _ in self.done} - old


# Databases ---------------------------------------------------------------------------------


class Store:
    """The gateway's database as the test sees it: counts of rows per request id, and a
    lock that makes the gateway's inserts hang."""

    def __init__(self, url: str) -> None:
        self.url = url

    def counts(self, prefix: str) -> dict[str, int] | None:
        raise NotImplementedError

    def hold_write_lock(self) -> Callable[[], None]:
        """Take a lock every log insert waits on; returns its release."""
        raise NotImplementedError


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        super().__init__(f"sqlite+aiosqlite:///{path}")
        self.path = path

    def counts(self, prefix: str) -> dict[str, int] | None:
        try:
            with sqlite3.connect(self.path, timeout=5) as conn:
                rows = conn.execute(
                    "SELECT request_id, count(*) FROM request_logs WHERE request_id LIKE ?"
                    " GROUP BY request_id",
                    (prefix + "%",),
                ).fetchall()
        except sqlite3.OperationalError:
            return None
        return dict(rows)

    def hold_write_lock(self) -> Callable[[], None]:
        # WAL: readers go on, every writer waits (busy_timeout, 10 s in the gateway).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")

        def release() -> None:
            conn.execute("ROLLBACK")
            conn.close()

        return release


class PostgresStore(Store):
    def counts(self, prefix: str) -> dict[str, int] | None:
        async def query() -> dict[str, int]:
            conn = await _pg_connect(self.url)
            try:
                rows = await conn.fetch(
                    "SELECT request_id, count(*) AS n FROM request_logs"
                    " WHERE request_id LIKE $1 GROUP BY request_id",
                    prefix + "%",
                )
            finally:
                await conn.close()
            return {row["request_id"]: row["n"] for row in rows}

        try:
            return asyncio.run(query())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return None

    def hold_write_lock(self) -> Callable[[], None]:
        # A transaction holding EXCLUSIVE on the table: inserts wait for it, without limit.
        locked, release = threading.Event(), threading.Event()
        failure: list[BaseException] = []

        async def hold() -> None:
            conn = await _pg_connect(self.url)
            try:
                async with conn.transaction():
                    await conn.execute("LOCK TABLE request_logs IN EXCLUSIVE MODE")
                    locked.set()
                    await asyncio.get_running_loop().run_in_executor(None, release.wait)
                    raise _Rollback
            except _Rollback:
                pass
            finally:
                await conn.close()

        def run() -> None:
            try:
                asyncio.run(hold())
            except BaseException as exc:
                failure.append(exc)
                locked.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert locked.wait(10) and not failure, failure

        def unlock() -> None:
            release.set()
            thread.join(10)

        return unlock


class _Rollback(Exception):
    pass


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "gateway.db")
    running: PostgresCluster = request.getfixturevalue("cluster")
    return PostgresStore(running.create_database())


# The gateway process -----------------------------------------------------------------------


class Gateway:
    """`sluicegate serve` on the test's database and spool folder, killed and restarted."""

    def __init__(self, mock: MockUpstream, store: Store, folder: Path) -> None:
        self.folder = folder
        self.spool = folder / "spool"
        config = config_dict(mock.url, store.url, self.spool)
        config["logging"]["durable_after_seconds"] = DURABLE_AFTER
        self.config_file = folder / "sluicegate.yaml"
        self.config_file.write_text(json.dumps(config))  # JSON is YAML
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        self.process, self.url = serve(self.config_file, self.folder)

    def kill(self) -> float:
        """SIGKILL; returns the monotonic time just before it was sent."""
        assert self.process is not None
        killed_at = time.monotonic()
        self.process.kill()
        self.process.wait(10)
        return killed_at

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def gateway(mock: MockUpstream, store: Store, tmp_path: Path) -> Iterator[Gateway]:
    running = Gateway(mock, store, tmp_path)
    yield running
    running.stop()


def assert_survived(store: Store, gateway: Gateway, clients: Clients, killed_at: float) -> None:
    """Restarted, the gateway writes every old-enough row exactly once (and any younger one
    it kept, once too)."""
    old, young = clients.finished_before(killed_at - DURABLE_AFTER - SLACK)
    assert len(old) >= 20, f"too little traffic before the kill: {len(old)} requests"
    gateway.start()

    def all_old_rows() -> dict[str, int] | None:
        counts = store.counts(clients.prefix)
        return counts if counts is not None and old <= set(counts) else None

    try:
        wait_until(all_old_rows, 60, 0.1)
    except AssertionError:
        counts = store.counts(clients.prefix) or {}
        missing = sorted(old - set(counts))
        raise AssertionError(
            f"{len(missing)} of {len(old)} rows lost: {missing[:10]}; spool holds "
            f"{sorted(p.name for p in gateway.spool.iterdir())}\n{serve_log(gateway.folder)}"
        ) from None
    # The replay has settled: nothing left to write twice.
    wait_until(lambda: not spool_files(gateway.spool), 30, 0.1)
    counts = store.counts(clients.prefix) or {}
    twice = {rid: n for rid, n in counts.items() if n != 1}
    assert not twice, f"rows written more than once: {dict(list(twice.items())[:10])}"
    assert set(counts) <= old | young


def test_kill_mid_traffic_loses_no_row_older_than_the_bound(store: Store, gateway: Gateway) -> None:
    gateway.start()
    clients = Clients(gateway.url).start()
    try:
        started = time.monotonic()
        wait_until(
            lambda: clients.count() >= 100 and time.monotonic() - started >= 3 * DURABLE_AFTER,
            60,
            0.02,
        )
        killed_at = gateway.kill()
    finally:
        clients.stop()
    assert_survived(store, gateway, clients, killed_at)


def test_kill_while_the_insert_is_stuck_keeps_rows_on_disk(store: Store, gateway: Gateway) -> None:
    gateway.start()
    clients = Clients(gateway.url).start()
    release: Callable[[], None] | None = None
    try:
        # Some rows are in the database already, so the restart has both to reconcile.
        wait_until(lambda: len(store.counts(clients.prefix) or {}) >= 10, 30, 0.05)
        release = store.hold_write_lock()
        locked_at = time.monotonic()
        # The insert under way hangs: its rows, and those queued behind it, reach the spool
        # within the bound. (SQLite's busy timeout is 10 s: this is the journal, not the
        # outage path, which would start only after it.)
        wait_until(lambda: spool_files(gateway.spool), 3 * DURABLE_AFTER, 0.02)
        assert time.monotonic() - locked_at < 5
        # Requests keep being answered meanwhile, long enough for many to pass the bound.
        wait_until(
            lambda: (
                clients.count(since=locked_at) >= 30
                and time.monotonic() - locked_at >= 2 * DURABLE_AFTER + SLACK
            ),
            30,
            0.02,
        )
        killed_at = gateway.kill()
    finally:
        clients.stop()
        if release is not None:
            release()
    answered_while_locked = {rid for rid, at in clients.done if locked_at <= at}
    old, _ = clients.finished_before(killed_at - DURABLE_AFTER - SLACK)
    assert len(answered_while_locked & old) >= 10, "no row depended on the spool"
    assert_survived(store, gateway, clients, killed_at)
