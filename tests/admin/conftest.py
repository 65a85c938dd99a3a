"""Admin API fixtures: a server per test over a fresh migrated database of each kind the
storage tests run on (SQLite, PostgreSQL: `db_url` and `postgres_server` are imported from
tests/storage/conftest.py), and one SQLite server per module for tests that never reach the
database (auth, docs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage.conftest import db_url, postgres_server  # noqa: F401  (fixtures, both legs)

from .harness import MASTER_KEY, AdminServer, FakeRuntime


@pytest.fixture
def server(db_url: str) -> Iterator[AdminServer]:  # noqa: F811
    running = AdminServer(db_url)
    yield running
    running.stop()


@pytest.fixture
def runtime(server: AdminServer) -> FakeRuntime:
    assert server.runtime is not None
    return server.runtime


@pytest.fixture
def http(server: AdminServer) -> Iterator[httpx.Client]:
    """A client sending the master key."""
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    """One SQLite-backed server for tests that never reach the database (auth, docs)."""
    path: Path = tmp_path_factory.mktemp("admin") / "admin.db"
    running = AdminServer(f"sqlite+aiosqlite:///{path}")
    yield running
    running.stop()
