"""AdminRuntime: what the admin API needs from the running gateway, as a Protocol.

The admin package may not import `app` (STYLE import rules), so the composition root hands
`build_admin_app` an object with this shape instead: the database, the master key, the live-log
bus, and two callbacks that let a mutation or a reload take effect in this process at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from ..config.schema import LiveConfig
from ..live.bus import LiveBus
from ..storage.db import Database


class AdminRuntime(Protocol):
    """Implemented by the composition root (`app.py`); a small fake in tests.

    `db` and `master_key` are read on every request, so a reload that changes the master key
    takes effect without rebuilding the admin app. Properties or plain attributes both fit.
    """

    @property
    def db(self) -> Database:
        """The catalog and request-log database (already migrated)."""
        ...

    @property
    def master_key(self) -> str | None:
        """The admin key; None disables the admin API (every /admin call gets 401)."""
        ...

    @property
    def live(self) -> LiveBus:
        """This process's live-log events (GET /admin/live/logs)."""
        ...

    @property
    def live_config(self) -> LiveConfig:
        """`live:` of the current config (heartbeat, per-subscriber bound)."""
        ...

    @property
    def guardrail_names(self) -> list[str]:
        """Names under `guardrails:` of the current config (what a model's `guardrails` may
        name; guardrails live only in the config file)."""
        ...

    async def catalog_changed(self) -> None:
        """Called after every successful mutation: rebuild this process's auth and routing
        from the catalog now. Other processes notice the catalog version bump by polling."""
        ...

    async def reload_config(self) -> dict[str, Any]:
        """Re-read the config file and apply it; returns a JSON-able summary for the caller.

        Raises `sluicegate.errors.InvalidRequest` (or any GatewayError) when the file is
        invalid; the message is shown to the caller as is, so it must hold no secrets."""
        ...


def current_runtime(request: Request) -> AdminRuntime:
    """FastAPI dependency: the runtime `build_admin_app` stored on the app."""
    runtime: AdminRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[AdminRuntime, Depends(current_runtime)]
