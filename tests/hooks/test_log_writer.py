"""The request log writer on its own: batches, spool on outage, replay, and close() losing
nothing even when an insert is under way."""

from __future__ import annotations

import asyncio
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
        writer = RequestLogWriter(db, tmp_path / "spool", batch_size=10)
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
