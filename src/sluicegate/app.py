"""Composition root: `build_app(config)` wires config, storage, providers, auth, routing, hooks,
the proxy and the admin API into one ASGI app with a lifespan. Only this module (and `cli`)
imports across packages.

    start ─► tables from the config file (serving at once)
          ─► database: migrate, sync the file's entities, load the catalog ─► swap tables in
              (unreachable: keep serving from the file, spool the log, retry every 5 s)
          ─► every second: catalog version changed (another worker or instance)? reload
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .auth.keys import display_prefix, hash_key
from .auth.resolver import KeyStore
from .cache.store import build_store
from .cluster.breakers import BreakerSync
from .config import ConfigError, GatewayConfig, load_config
from .config.schema import BackendConfig, LiveConfig
from .errors import InvalidRequest
from .guardrails.registry import Guardrails, guardrails_of
from .hooks.access_log import AccessLog
from .hooks.bus import HookBus
from .hooks.limits import LimitHook
from .hooks.live import LiveHook
from .hooks.loader import load_hook
from .hooks.log import RequestLogWriter
from .hooks.metrics import MetricsHook
from .limits.periods import period_bounds
from .limits.policy import budget_key
from .limits.store import LimitStore, LimitStoreUnavailable, MemoryLimitStore, RedisLimitStore
from .live.bus import LiveBus
from .providers.base import Provider
from .providers.registry import UnsupportedBackend, build_provider
from .proxy.cached import ProxyCache
from .proxy.dispatch import ProxyApp
from .proxy.inflight import Inflight
from .proxy.state import ProxyState
from .routing.table import ModelTable
from .storage import catalog, request_log
from .storage.catalog_view import CatalogView, view_of
from .storage.config_sync import sync_config
from .storage.db import Database, StorageUnavailable
from .storage.migrate import upgrade_in_child
from .types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .dashboard.routes import DashboardApp

log = logging.getLogger("sluicegate")

CONFIG_ENV = "SLUICEGATE_CONFIG"
CATALOG_POLL_SECONDS = 1.0
DB_RETRY_SECONDS = 5.0
RETENTION_EVERY_SECONDS = 3600.0
# Allocations (net of frees) between young-generation collections; CPython's default is 700.
GC_YOUNG_THRESHOLD = 10_000
PROVIDER_CLOSE_DELAY = 120.0  # in-flight requests keep using a replaced backend's session


def new_limit_store(redis_url: str | None) -> LimitStore:
    return RedisLimitStore(redis_url) if redis_url else MemoryLimitStore()


def spool_dir(config: GatewayConfig) -> Path:
    if config.logging.spool_dir:
        return Path(config.logging.spool_dir)
    database = config.database.url
    if database.startswith("sqlite") and ":///" in database:
        return Path(database.split(":///", 1)[1]).resolve().parent / "sluicegate-spool"
    return Path("sluicegate-spool").resolve()


class Providers:
    """Provider objects by backend name, reused across reloads while their config is equal."""

    def __init__(self) -> None:
        self.by_name: dict[str, Provider] = {}
        self._retired: list[Provider] = []

    def update(self, backends: list[BackendConfig]) -> dict[str, Provider]:
        fresh: dict[str, Provider] = {}
        for backend in backends:
            current = self.by_name.get(backend.name)
            if current is not None and current.config == backend:
                fresh[backend.name] = current
                continue
            try:
                fresh[backend.name] = build_provider(backend)
            except UnsupportedBackend as exc:
                log.warning("%s; its models are unavailable", exc)
        for name, provider in self.by_name.items():
            if fresh.get(name) is not provider:
                self._retire(provider)
        self.by_name = fresh
        return fresh

    def _retire(self, provider: Provider) -> None:
        async def later() -> None:
            await asyncio.sleep(PROVIDER_CLOSE_DELAY)
            await provider.aclose()

        with contextlib.suppress(RuntimeError):  # no running loop: nothing was opened yet
            asyncio.get_running_loop().create_task(later())
        self._retired.append(provider)

    async def aclose(self) -> None:
        for provider in [*self.by_name.values(), *self._retired]:
            await provider.aclose()


class Gateway:
    """The ASGI application; also the admin API's `AdminRuntime`."""

    def __init__(
        self, config: GatewayConfig, bus: HookBus | None = None, config_path: str | None = None
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.bus = bus or HookBus()
        self.providers = Providers()
        self.db = Database(config.database.url)
        self.catalog_version: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.state = ProxyState(
            keys=KeyStore.from_config(config.server.master_key, config.users),
            table=ModelTable.from_config(config, self.providers.update(config.backends)),
            bus=self.bus,
            max_body_bytes=config.server.max_body_bytes,
            keepalive_seconds=config.server.keepalive_seconds,
            detail_stream_mode=config.logging.detail_stream_log_mode,
            body_timeout_seconds=config.server.body_timeout_seconds,
            inflight=Inflight(config.server.max_inflight),
        )
        # Metrics first: its `before` counts the request in flight even if a later hook (the
        # limiter) refuses it, and its `after` always balances that.
        self.log_writer = RequestLogWriter(
            self.db,
            spool_dir(config),
            durable_after=config.logging.durable_after_seconds,
            connected=False,
        )
        self.metrics = MetricsHook(self.state.health.rows, lambda: self.log_writer.backlog)
        self.bus.add(self.metrics)
        self.state.render_metrics = self.metrics.render
        self.limits = LimitHook(new_limit_store(config.redis.url))
        self.bus.add(self.limits)
        self.bus.subscribe(self.log_writer)
        # Live logs: from the Completion, never the database (events flow while it is down).
        self.live = LiveBus(config.live.buffer_events)
        self.bus.add(LiveHook(self.live, config.redis.url))
        if config.logging.access_log:
            self.bus.add(AccessLog())
        for hook in config.hooks:
            self.bus.add(load_hook(hook.class_, hook.options))
        self.state.guards = self._guardrails(config)
        if config.telemetry.otlp_endpoint:
            # Only now: with telemetry off, nothing of OpenTelemetry is imported (SPEC 13).
            from .hooks.telemetry import TelemetryHook

            self.bus.add(TelemetryHook(config.telemetry, self._backend_type))
            self.state.tracing = True
        self.state.check_ready = self.db.ping
        self.breakers: BreakerSync | None = None
        if config.redis.url:
            health = self.state.health
            self.breakers = BreakerSync(config.redis.url, health.apply_open, health.apply_close)
            health.listener = self.breakers
        if config.cache.mode != "off":
            store = build_store(config.cache, config.redis.url)
            self.state.cache = ProxyCache(store, config.cache)
        self.proxy = ProxyApp(self.state, fallback=self._admin)
        self._admin_app: ASGIApp | None = None
        self._dashboard_app: DashboardApp | None = None

    def _guardrails(self, config: GatewayConfig) -> Guardrails | None:
        return guardrails_of(config.guardrails, self.bus.input_checks, self.bus.output_checks)

    def _backend_type(self, name: str) -> str | None:
        provider = self.providers.by_name.get(name)
        return provider.config.type if provider is not None else None

    def dashboard(self) -> DashboardApp:
        """The /dashboard app (sign-in, shell, assets), built on first use like the admin API."""
        if self._dashboard_app is None:
            from .dashboard.routes import DashboardApp

            self._dashboard_app = DashboardApp(lambda: self.master_key)
        return self._dashboard_app

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The admin API (FastAPI) and the dashboard, built on their first request: a gateway
        nobody administers through HTTP does not carry FastAPI and the admin schemas in memory."""
        path: str = scope["path"]
        if path == "/dashboard" or path.startswith("/dashboard/"):
            await self.dashboard()(scope, receive, send)
            return
        if self._admin_app is None:
            from .admin.app import build_admin_app

            self._admin_app = build_admin_app(self)
        await self._admin_app(scope, receive, send)

    # AdminRuntime ------------------------------------------------------------------------

    @property
    def master_key(self) -> str | None:
        return self.config.server.master_key

    @property
    def live_config(self) -> LiveConfig:
        return self.config.live

    @property
    def guardrail_names(self) -> list[str]:
        return [g.name for g in self.config.guardrails]

    async def catalog_changed(self) -> None:
        await self.apply_catalog()

    async def reload_config(self) -> dict[str, Any]:
        if not self.config_path:
            raise InvalidRequest("The gateway runs on its embedded defaults: no file to reload.")
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            raise InvalidRequest(
                "The config file has problems: " + "; ".join(exc.problems)
            ) from exc
        restart = [
            name
            for name in ("database", "redis")
            if getattr(config, name) != getattr(self.config, name)
        ]
        if (config.server.host, config.server.port) != (
            self.config.server.host,
            self.config.server.port,
        ):
            restart.append("server.host/port")
        if config.live.buffer_events != self.config.live.buffer_events:
            restart.append("live.buffer_events")
        if config.telemetry != self.config.telemetry:
            restart.append("telemetry")
        if config.cache != self.config.cache:
            restart.append("cache")
        for key in ("format", "level", "access_log"):
            if getattr(config.logging, key) != getattr(self.config.logging, key):
                restart.append(f"logging.{key}")
        self.config = config
        self.state.guards = self._guardrails(config)
        await self._sync_config()
        await self.apply_catalog()
        return {
            "reloaded": True,
            "backends": len(config.backends),
            "models": len(config.models),
            "users": len(config.users),
            "catalog_version": self.catalog_version,
            "restart_needed_for": restart,
        }

    # Catalog -----------------------------------------------------------------------------

    async def _sync_config(self) -> None:
        users = [
            (u, [(hash_key(k).hex(), display_prefix(k)) for k in u.api_keys])
            for u in self.config.users
        ]
        await sync_config(self.db, self.config.backends, self.config.models, users)

    async def apply_catalog(self) -> CatalogView:
        """Load the catalog and swap this process's auth and routing tables."""
        view = view_of(await catalog.load_all(self.db))
        providers = self.providers.update(view.backends)
        state = self.state
        state.table = ModelTable.from_config(
            GatewayConfig.model_construct(backends=view.backends, models=view.models),
            providers,
        )
        state.keys = KeyStore.from_catalog(self.config.server.master_key, view.users)
        self.catalog_version = view.version
        return view

    async def _connect(self) -> None:
        await upgrade_in_child(self.db.url.render_as_string(hide_password=False))
        await self._sync_config()
        view = await self.apply_catalog()
        self.log_writer.mark_connected()
        await self._seed_budgets(view)

    async def _seed_budgets(self, view: CatalogView) -> None:
        """Start each budget from the period's spend in the request log, so a restart (or a
        Redis flush) does not hand users a fresh budget."""
        periods = {u.config.budget_period for u in view.users if u.config.budget_usd is not None}
        for period in periods:
            start, end = period_bounds(period)
            key, left = budget_key(period)
            spent = {
                row["group"]: float(row["cost_usd"] or 0.0)
                for row in await request_log.usage(self.db, "user", since=start, until=end)
            }
            for user in view.users:
                if user.config.budget_period == period and user.config.budget_usd is not None:
                    await self.limits.store.seed_spend(user.id, key, spent.get(user.id, 0.0), left)

    async def _connect_until_ready(self) -> None:
        while True:
            try:
                await self._connect()
                log.warning("database reachable again; catalog loaded")
                return
            except StorageUnavailable as exc:
                log.debug("database still unavailable: %s", exc)
            await asyncio.sleep(DB_RETRY_SECONDS)

    async def _watch_catalog(self) -> None:
        while True:
            await asyncio.sleep(CATALOG_POLL_SECONDS)
            if self.catalog_version is None:
                continue
            try:
                if await catalog.get_version(self.db) != self.catalog_version:
                    await self.apply_catalog()
            except StorageUnavailable:
                continue
            except Exception:
                log.exception("catalog reload failed")

    async def _enforce_retention(self, days: int) -> None:
        while True:
            cutoff = datetime.now(UTC) - timedelta(days=days)
            try:
                removed = await request_log.delete_older_than(self.db, cutoff)
                if removed:
                    log.info(
                        "retention: removed %d request log rows older than %s",
                        removed,
                        cutoff.date(),
                    )
            except StorageUnavailable:
                pass
            await asyncio.sleep(RETENTION_EVERY_SECONDS)

    # Drain (SPEC 4.8) ----------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Refuse new requests (503 overloaded, /health/ready 503) and give those in flight
        `drain_seconds` to finish; uvicorn stops listening and waits for them meanwhile."""
        inflight = self.state.inflight
        if inflight.draining:
            return
        inflight.draining = True
        self.live.close()  # live-log streams never end by themselves: end them now
        seconds = self.config.server.drain_seconds
        log.warning("draining: %d requests in flight get %gs to finish", len(inflight), seconds)
        asyncio.get_running_loop().call_later(seconds, self._end_drain)

    def _end_drain(self) -> None:
        ended = self.state.inflight.end_all()
        if ended:
            log.warning("drain over: ended %d requests still running", ended)

    def _chain_signals(self) -> None:
        """Begin the drain as soon as SIGTERM/SIGINT arrives, then let uvicorn's own handler
        run (it stops listening and waits for open connections). Signals reach only the main
        thread; a gateway run in another thread (tests) is drained by `begin_drain()`."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.begin_drain)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(sig, handler)

    # Lifespan ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.proxy(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    async def startup(self) -> None:
        try:
            await self._connect()
        except LimitStoreUnavailable as exc:
            log.warning("could not seed budgets into the limit store: %s", exc)
        except StorageUnavailable as exc:
            log.error(
                "database unavailable at start (%s): serving the config file's entities, "
                "spooling the request log, retrying every %gs",
                exc,
                DB_RETRY_SECONDS,
            )
            self._spawn(self._connect_until_ready(), "db-connect")
        self.log_writer.start()
        self._spawn(self._watch_catalog(), "catalog-watch")
        self._spawn(self.state.inflight.watch(), "stalled-clients")
        self._chain_signals()
        if self.breakers is not None:
            self.breakers.start()
        if self.config.logging.retention_days:
            self._spawn(self._enforce_retention(self.config.logging.retention_days), "retention")
        await self.bus.start()
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # GC's sight, so full collections stay short (they paused requests ~50 ms per ~10k).
        gc.collect()
        gc.freeze()
        # A request leaves no reference cycles (tests/proxy/test_hangup.py), yet at 700 the
        # objects of requests in flight set off a young collection every few requests, and
        # promote live objects into costlier ones: ~5 % of CPU at c64 (decision 43).
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self.state.ready = True

    async def shutdown(self) -> None:
        self.state.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.breakers is not None:
            await self.breakers.close()
        await self.bus.close()
        if self.state.cache is not None:
            await self.state.cache.close()
        await self.log_writer.close()
        await self.providers.aclose()
        await self.db.close()


def build_app(
    config: GatewayConfig, bus: HookBus | None = None, config_path: str | None = None
) -> Gateway:
    return Gateway(config, bus, config_path)


def create_app(env: Mapping[str, str] | None = None) -> Gateway:
    """uvicorn factory: each worker process loads the config named by SLUICEGATE_CONFIG."""
    env = os.environ if env is None else env
    path = env.get(CONFIG_ENV) or None
    return build_app(load_config(path, env), config_path=path)
