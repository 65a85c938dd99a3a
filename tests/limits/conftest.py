"""Fixtures of the limit tests: a real redis-server for the shared store."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from sluicegate.limits.store import LimitStoreUnavailable, RedisLimitStore
from support import free_port, wait_until


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required (make test installs it: scripts/test-deps.sh)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    async def ping() -> bool:
        store = RedisLimitStore(url)
        try:
            return await store.ping()
        except LimitStoreUnavailable:
            return False
        finally:
            await store.close()

    wait_until(lambda: asyncio.run(ping()), 20, 0.05)
    yield url
    process.terminate()
    process.wait(10)
