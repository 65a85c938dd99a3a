"""Storage fixtures: every test that asks for `db_url` or `db` runs on SQLite and PostgreSQL.

The PostgreSQL leg starts (or reuses) a local server with `scripts/postgres.sh` once per
session and gives each test its own freshly created database (about 15 ms), so tests never
see each other's rows. `SLUICEGATE_TEST_POSTGRES=0` skips that leg;
`SLUICEGATE_TEST_PG_DIR` / `SLUICEGATE_TEST_PG_PORT` move the server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from sluicegate.storage.db import Database
from sluicegate.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def run_async() -> Callable[[Coroutine[Any, Any, T]], T]:
    """Run a coroutine to completion from a sync test, on a fresh loop in its own thread."""
    return _run_async


def url_string(url: Any) -> str:
    return make_url(url).render_as_string(hide_password=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the test server's `sluicegate` database (its owner may create databases)."""
    if os.environ.get("SLUICEGATE_TEST_POSTGRES") == "0":
        pytest.skip("SLUICEGATE_TEST_POSTGRES=0")
    directory = os.environ.get("SLUICEGATE_TEST_PG_DIR", "/tmp/sluicegate-pg")
    port = os.environ.get("SLUICEGATE_TEST_PG_PORT", "55432")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), directory, port],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/postgres.sh failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


async def _admin(server_url: str, *statements: str) -> None:
    url = make_url(server_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the parametrised kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = "sgt_" + uuid.uuid4().hex[:20]
    _run_async(_admin(server, f'CREATE DATABASE "{name}"'))
    yield url_string(make_url(server).set(database=name))
    _run_async(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    await upgrade(db_url)
    database = Database(db_url)
    yield database
    await database.close()
