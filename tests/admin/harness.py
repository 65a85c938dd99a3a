"""Admin API test harness: build_admin_app over a FakeRuntime, served by uvicorn on a loopback
port in a thread, as tests/support.py does for the gateway.

The app runs on the server thread's event loop; tests reach it only over TCP with httpx and
reach its database with `server.call(...)`, which runs a coroutine on that same loop (an
async engine's pooled connections belong to the loop that made them).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from sluicegate.admin import build_admin_app
from sluicegate.config.schema import GatewayConfig, LiveConfig
from sluicegate.live.bus import LiveBus
from sluicegate.storage.db import Database
from sluicegate.storage.migrate import upgrade
from support import RunningGateway, free_port, wait_until

MASTER_KEY = "sk-admin-master-test"
T = TypeVar("T")


class FakeRuntime:
    """The AdminRuntime the composition root would provide, recording what it was asked."""

    def __init__(self, db: Database, master_key: str | None) -> None:
        self.db = db
        self.master_key = master_key
        self.changes = 0
        self.reloads = 0
        self.reload_result: dict[str, Any] | Exception = {"reloaded": True}
        self.live = LiveBus()
        self.live_config = LiveConfig()
        self.guardrail_names = ["pii"]

    async def catalog_changed(self) -> None:
        self.changes += 1

    async def reload_config(self) -> dict[str, Any]:
        self.reloads += 1
        if isinstance(self.reload_result, Exception):
            raise self.reload_result
        return self.reload_result


class AdminServer:
    """build_admin_app(FakeRuntime) served by uvicorn in a thread, like support.RunningGateway."""

    def __init__(self, url: str, *, master_key: str | None = MASTER_KEY, migrate: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._db_url = url
        self._migrate = migrate
        self._master_key = master_key
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runtime: FakeRuntime | None = None
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.error or (self.server is not None and self.server.started), 30)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced in __init__ instead of lost in the thread
            self.error = exc

    async def _serve(self) -> None:
        if self._migrate:
            await upgrade(self._db_url)
        db = Database(self._db_url)
        self.runtime = FakeRuntime(db, self._master_key)
        self.loop = asyncio.get_running_loop()
        config = uvicorn.Config(
            build_admin_app(self.runtime),
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        try:
            await self.server.serve()
        finally:
            await db.close()

    @property
    def db(self) -> Database:
        assert self.runtime is not None
        return self.runtime.db

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `factory()` on the server's loop (where its database lives) and return the result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(30)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(20)


def demo_gateway(folder: Path, master_key: str, user: str, key: str) -> Iterator[RunningGateway]:
    """A whole gateway for a module fixture to `yield from`: SQLite in `folder`, the demo
    backend and its model `demo-echo`, one user who may use every model."""
    config = GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "server": {"master_key": master_key},
            "backends": [{"name": "demo", "type": "demo", "models": ["demo-echo"]}],
            "models": [{"name": "demo-echo", "targets": [{"backend": "demo", "model": "x"}]}],
            "users": [{"name": user, "api_keys": [key], "models": ["*"]}],
        }
    )
    running = RunningGateway(config)
    yield running
    running.stop()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a SPEC-shaped error response (asserting the shape on the way)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "param"}, body
    error: dict[str, Any] = body["error"]
    return error
