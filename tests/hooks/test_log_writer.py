"""The request log writer on its own: batches, spool on outage, replay, and close() losing
nothing even when an insert is under way."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sluicegate.hooks.log import RequestLogWriter
from sluicegate.record import Completion
from sluicegate.storage import request_log
from sluicegate.storage.db import Database
from sluicegate.storage.migrate import upgrade
from support import T0
from support import completion as shared_completion


def completion(i: int) -> Completion:
    return shared_completion(i, T0 + timedelta(seconds=i))


def finished_now(i: int) -> Completion:
    """Request `r<i>` as it is published: finished this instant (the writer ages rows by it)."""
    return replace(shared_completion(i), created_at=time.time(), latency_ms=0.0)


async def count(db: Database) -> int:
    _, total = await request_log.query_rows(db, limit=1)
    return total


def test_close_flushes_everything_even_mid_insert(tmp_path: Path) -> None:
    async def run() -> int:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        writer = RequestLogWriter(db, tmp_path / "spool", batch_size=7, flush_interval=0.001)
        writer.start()
        for i in range(500):
            writer(completion(i))
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the writer take batches while more arrive
        await writer.close()
        total = await count(db)
        await db.close()
        return total

    assert asyncio.run(run()) == 500


def test_outage_spools_then_replays(tmp_path: Path) -> None:
    async def run() -> tuple[int, int, int]:
        folder = tmp_path / "db"
        url = f"sqlite+aiosqlite:///{folder}/log.db"
        down = Database(url)  # the folder does not exist yet: every connect fails
        writer = RequestLogWriter(down, tmp_path / "spool", batch_size=10, flush_interval=0.01)
        for i in range(25):
            writer(completion(i))
        await writer.flush()
        spooled = writer.rows_spooled
        files = len(list((tmp_path / "spool").glob("requests-*.jsonl")))
        await down.close()
        folder.mkdir()
        await upgrade(url)
        up = Database(url)
        replayer = RequestLogWriter(up, tmp_path / "spool")
        replayer.start()  # a fresh start replays the spool first
        await replayer.close()
        total = await count(up)
        await up.close()
        return spooled, files, total

    spooled, files, total = asyncio.run(run())
    assert spooled == 25 and files == 1
    assert total == 25
    assert not list((tmp_path / "spool").glob("requests-*"))


def test_a_replay_interrupted_by_a_crash_is_taken_up_again(tmp_path: Path) -> None:
    import subprocess
    import sys

    import orjson

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    spool = tmp_path / "spool"
    spool.mkdir()
    row = request_log.row_from_completion(completion(1))
    row["created_at"] = row["created_at"].timestamp()
    claimed = spool / f"requests-1-2.jsonl.replaying-{dead.pid}"
    claimed.write_bytes(orjson.dumps(row) + b"\n")

    async def run() -> int:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        writer = RequestLogWriter(db, spool)
        writer.start()
        await writer.close()
        total = await count(db)
        await db.close()
        return total

    assert asyncio.run(run()) == 1
    assert not list(spool.iterdir())


def test_a_backlog_beyond_the_bound_waits_on_disk_not_in_memory(tmp_path: Path) -> None:
    from sluicegate.hooks import log as log_module

    async def run() -> tuple[int, int, int]:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        # A bound far away: this is about memory, not about how old a queued row may get.
        writer = RequestLogWriter(db, tmp_path / "spool", batch_size=10, durable_after=3600)
        for i in range(log_module.MAX_BACKLOG + 100):
            writer(completion(i))
        await writer._flush_batch()  # one step of the writer: the excess goes to disk
        backlog, spooled = writer.backlog, writer.rows_spooled
        await writer.flush()  # then everything reaches the database, spool included
        total = await count(db)
        await db.close()
        return backlog, spooled, total

    backlog, spooled, total = asyncio.run(run())
    assert backlog <= 50_000 and spooled == 110
    assert total == 50_100


# The durability bound (docs/request-log.md): rows never outstay `durable_after` in memory.


def rows_in(spool: Path) -> list[str]:
    """The request ids of every row in the spool folder's files."""
    import orjson

    return [
        orjson.loads(line)["request_id"]
        for path in sorted(spool.glob("requests-*.jsonl"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]


async def poll(predicate):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + 10.0
    while not (result := predicate()):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
    return result


def test_a_stuck_insert_is_journaled_and_rows_arriving_meanwhile_are_spooled(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """An insert still running when its rows reach the bound leaves them in a file of its own
    (removed once it commits); rows queued behind it go to the spool before their bound."""
    from sluicegate.hooks import log as log_module

    async def run() -> tuple[float, float, float, list[str], list[str], int]:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        spool = tmp_path / "spool"
        unblock = asyncio.Event()
        real_insert = request_log.insert_rows

        async def stuck_insert(db: Database, rows) -> None:  # type: ignore[no-untyped-def]
            await unblock.wait()  # a locked database file, a stuck server
            await real_insert(db, rows)

        monkeypatch.setattr(log_module, "insert_rows", stuck_insert)
        loop = asyncio.get_running_loop()
        built_at = loop.time()
        writer = RequestLogWriter(db, spool, flush_interval=0.01, durable_after=0.4)
        writer.start()
        for i in range(5):
            writer(finished_now(i))
        queued_at = loop.time()
        journaled = await poll(lambda: sorted(rows_in(spool)))
        journaled_at = loop.time()
        for i in range(5, 8):  # behind the stuck insert
            writer(finished_now(i))
        queued_at = loop.time()
        await poll(lambda: len(rows_in(spool)) == 8)
        spool_delay = loop.time() - queued_at
        both = sorted(rows_in(spool))
        unblock.set()
        # The stuck insert commits: its journal goes; the rows queued behind are replayed.
        await poll(lambda: not rows_in(spool))
        await writer.close()
        total = await count(db)
        await db.close()
        return (
            journaled_at - built_at,
            journaled_at - queued_at,
            spool_delay,
            journaled,
            both,
            total,
        )

    since_built, journal_delay, spool_delay, journaled, both, total = asyncio.run(run())
    assert journaled == [f"r{i}" for i in range(5)]
    assert both == [f"r{i}" for i in range(8)]
    # Not before the insert had half the bound (0.2 s) to commit; then within the bound
    # (0.4 s), with room for a slow machine in the upper limit only.
    assert since_built >= 0.2
    assert journal_delay < 1.0 and spool_delay < 1.0
    assert total == 8  # each row once: the journal was never replayed on top


def test_replaying_rows_that_reached_the_database_already_adds_none(tmp_path: Path) -> None:
    """A process killed after its insert committed but before it removed the journal."""
    import subprocess
    import sys

    import orjson

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    spool = tmp_path / "spool"
    spool.mkdir()
    rows = [request_log.row_from_completion(completion(i)) for i in range(6)]
    lines = [orjson.dumps({**r, "created_at": r["created_at"].timestamp()}) for r in rows]
    # ... and one more append cut short by the kill: skipped.
    (spool / f"requests-{dead.pid}-1.jsonl").write_bytes(b"\n".join(lines) + b'\n{"row_k')

    async def run() -> int:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        await request_log.insert_rows(db, rows[:4])
        writer = RequestLogWriter(db, spool)
        writer.start()
        await writer.close()
        total = await count(db)
        await db.close()
        return total

    assert asyncio.run(run()) == 6
    assert not list(spool.iterdir())


def test_files_of_a_living_writer_are_left_to_it(tmp_path: Path) -> None:
    """Another process's spool file is replayed only once that process is gone."""
    import subprocess
    import sys

    import orjson

    spool = tmp_path / "spool"
    spool.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"path = {str(spool)!r} + f'/owner-{{os.getpid()}}.lock'\n"
            "fd = os.open(path, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        row = request_log.row_from_completion(completion(1))
        row["created_at"] = row["created_at"].timestamp()
        theirs = spool / f"requests-{holder.pid}-1.jsonl"
        theirs.write_bytes(orjson.dumps(row) + b"\n")

        async def run() -> tuple[int, int]:
            url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
            await upgrade(url)
            db = Database(url)
            writer = RequestLogWriter(db, spool)
            writer.start()
            await writer.flush()
            while_alive = await count(db)
            holder.kill()  # its flock goes with it
            holder.wait()
            await writer.flush()
            await writer.close()
            after = await count(db)
            await db.close()
            return while_alive, after

        assert asyncio.run(run()) == (0, 1)
        assert not list(spool.iterdir())
    finally:
        holder.kill()
        holder.wait()


def test_steady_traffic_on_a_healthy_database_writes_nothing_to_disk(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Rows arrive faster than the deque empties and every insert takes a while, but well
    within the bound: no row is old, so none is spooled. (The writer once aged rows by the
    last time it saw the deque empty, and under steady load sent every row through the spool,
    cutting the gateway's throughput by more than half.)"""
    from sluicegate.hooks import log as log_module

    async def run() -> tuple[int, int, list[str]]:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        spool = tmp_path / "spool"
        real_insert = request_log.insert_rows

        async def slow_insert(db: Database, rows) -> None:  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.05)  # a busy database: a quarter of the insert's deadline
            await real_insert(db, rows)

        monkeypatch.setattr(log_module, "insert_rows", slow_insert)
        writer = RequestLogWriter(db, spool, batch_size=5, flush_interval=0.01, durable_after=0.4)
        writer.start()
        for i in range(150):  # 1.5 s of traffic, the deque never empty for long
            writer(finished_now(i))
            await asyncio.sleep(0.01)
        await writer.close()
        total = await count(db)
        await db.close()
        return writer.rows_spooled, total, rows_in(spool)

    spooled, total, on_disk = asyncio.run(run())
    assert (spooled, on_disk) == (0, [])
    assert total == 150


def test_rows_behind_a_slow_insert_are_journaled_then_inserted_from_memory(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Rows that reach the bound behind a slow insert are put on disk (a kill must not lose
    them) and then inserted from memory, the file removed: never fsynced, never read back.
    (They once went to the spool proper, fsynced and replayed later: under saturation that
    extra work made the writer fall further behind until most rows lived on disk.)"""
    from sluicegate.hooks import log as log_module
    from sluicegate.hooks.log_spool import Spool

    reads: list[Path] = []
    real_read = Spool.read

    def counted_read(self: Spool, path: Path) -> list[dict[str, object]]:
        reads.append(path)
        return real_read(self, path)

    monkeypatch.setattr(Spool, "read", counted_read)

    async def run() -> tuple[int, list[str], int]:
        url = f"sqlite+aiosqlite:///{tmp_path}/log.db"
        await upgrade(url)
        db = Database(url)
        spool = tmp_path / "spool"
        real_insert = request_log.insert_rows
        slow_once = asyncio.Event()

        async def slow_insert(db: Database, rows) -> None:  # type: ignore[no-untyped-def]
            if not slow_once.is_set():
                slow_once.set()
                await asyncio.sleep(0.6)  # past the bound's half (0.2 s) and then some
            await real_insert(db, rows)

        monkeypatch.setattr(log_module, "insert_rows", slow_insert)
        writer = RequestLogWriter(db, spool, flush_interval=0.01, durable_after=0.4)
        writer.start()
        writer(finished_now(0))
        await poll(slow_once.is_set)
        for i in range(1, 6):  # behind the slow insert
            writer(finished_now(i))
        await poll(lambda: len(rows_in(spool)) >= 5)  # on disk while the insert is stuck
        await poll(lambda: not rows_in(spool))
        await writer.close()
        total = await count(db)
        await db.close()
        return total, rows_in(spool), writer.rows_spooled

    total, left, spooled = asyncio.run(run())
    assert (total, left, spooled) == (6, [], 0)
    assert reads == []
