"""The request log's spool folder: rows on local disk as JSON lines, until a replay inserts them.

    requests-<pid>-<outage>.jsonl              appended by writer <pid> (one file per outage)
    requests-<pid>-<ns>.jsonl                  a batch whose insert overran the bound (removed
                                               by writer <pid> once the insert commits)
    requests-rest-<ns>.jsonl                   what an interrupted replay had left to insert
    requests-....jsonl.replaying-<pid>         claimed (renamed) by the writer replaying it
    requests-....failed                        rows the database refused: set aside, loudly
    owner-<pid>.lock                           flock'ed by writer <pid> while it lives

A writer only appends to its own files and replays its own, those whose owner's lock nobody
holds (the kernel drops a killed process's flock, and a pid reused by another process holds
none), and the rest files (written whole, then renamed into place), so it never reads a file
another living writer is still appending to. Rows carry their `row_key`, so a file replayed
twice (a crash between an insert's commit and the file's removal) adds nothing twice. A
process killed in the middle of an append leaves at most a truncated last line, which a
replay skips.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("sluicegate.log")

Row = dict[str, Any]


class Spool:
    """One writer's view of a spool folder (shared by every worker of a host)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock: int | None = None

    def hold(self) -> None:
        """Mark this process's files as its own for as long as it lives."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(os.getpid()), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another writer of this same process holds it
            os.close(fd)
            return
        self._lock = fd

    def release(self) -> None:
        """Give this process's files up (after the last append): anyone may replay them."""
        if self._lock is not None:
            self._lock_path(os.getpid()).unlink(missing_ok=True)
            os.close(self._lock)
            self._lock = None

    def append(self, rows: list[Row], file_id: int, *, fsync: bool = True) -> Path:
        """Append `rows` to this process's file `file_id` (blocking: call in a thread).

        One write call, so the rows are in the page cache, safe from a kill, when it returns;
        the fsync after it is for power loss.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"requests-{os.getpid()}-{file_id}.jsonl"
        data = b"".join(orjson.dumps(_portable(row)) + b"\n" for row in rows)
        with open(path, "ab", buffering=0) as handle:
            view = memoryview(data)
            while view:
                view = view[handle.write(view) :]
            if fsync:
                os.fsync(handle.fileno())
        return path

    def has_files(self) -> bool:
        return any(self.folder.glob("requests-*.jsonl"))

    def replayable(self) -> list[Path]:
        """Files this writer may replay now, oldest first."""
        files = []
        for path in self.folder.glob("requests-*.jsonl"):
            owner = path.name.split("-")[1]
            if not owner.isdigit() or not self._held_by_other(int(owner)):
                with contextlib.suppress(FileNotFoundError):
                    files.append((path.stat().st_mtime, path))
        return [path for _, path in sorted(files)]

    def claim(self, path: Path) -> Path | None:
        """Rename `path` so no other writer takes it too; None when one already did."""
        claimed = path.with_name(f"{path.name}.replaying-{os.getpid()}")
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        return claimed

    def recover_interrupted(self) -> None:
        """Files a killed process was replaying go back in line (a living one keeps its own)."""
        for claimed in self.folder.glob("requests-*.jsonl.replaying-*"):
            if not self._held_by_other(int(claimed.name.rsplit("-", 1)[1])):
                with contextlib.suppress(FileNotFoundError):
                    claimed.rename(claimed.with_name(claimed.name.split(".replaying-")[0]))

    @staticmethod
    def read(path: Path) -> list[Row]:
        """The rows of a claimed file (blocking). A line that is no JSON, the tail of an append
        cut short by a kill, is skipped and reported."""
        rows = []
        broken = 0
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    broken += 1
                    continue
                if isinstance(row.get("created_at"), (int, float)):
                    row["created_at"] = datetime.fromtimestamp(row["created_at"], UTC)
                # Rows spooled before row_key existed get one from their content, the same at
                # every replay, so replaying them stays idempotent too.
                if row.get("row_key") is None:
                    row["row_key"] = hashlib.blake2b(line.strip(), digest_size=16).hexdigest()
                rows.append(row)
        if broken:
            log.warning("request log: %d unreadable line(s) skipped in %s", broken, path.name)
        return rows

    def keep_rest(self, claimed: Path, rows: list[Row]) -> None:
        """Replace a claimed file by a rest file holding `rows` (blocking)."""
        path = self.folder / f"requests-rest-{time.time_ns()}.jsonl"
        data = b"".join(orjson.dumps(_portable(row)) + b"\n" for row in rows)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(path)
        claimed.unlink(missing_ok=True)

    @staticmethod
    def set_aside(claimed: Path) -> None:
        claimed.rename(
            claimed.with_name(claimed.name.split(".replaying-")[0]).with_suffix(".failed")
        )

    def _lock_path(self, pid: int) -> Path:
        return self.folder / f"owner-{pid}.lock"

    def _held_by_other(self, pid: int) -> bool:
        """Whether another living writer owns the files named with `pid`. A lock found free
        was a killed writer's: it is removed."""
        if pid == os.getpid():
            return False
        path = self._lock_path(pid)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        return False


def _portable(row: Row) -> Row:
    created = row.get("created_at")
    if isinstance(created, datetime):
        row = {**row, "created_at": created.timestamp()}
    return row
