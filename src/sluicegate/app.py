"""Composition root: `build_app(config)` wires config, providers, auth, routing, hooks and the
proxy into one ASGI app with a lifespan. Only this module (and `cli`) imports across packages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from .auth.resolver import KeyStore
from .config import GatewayConfig, load_config
from .hooks.bus import HookBus
from .hooks.limits import LimitHook
from .hooks.loader import load_hook
from .hooks.metrics import MetricsHook
from .limits.store import LimitStore, MemoryLimitStore, RedisLimitStore
from .providers.base import Provider
from .providers.registry import UnsupportedBackend, build_provider
from .proxy.dispatch import ProxyApp
from .proxy.state import ProxyState
from .routing.table import ModelTable
from .types import Receive, Scope, Send

log = logging.getLogger("sluicegate")

CONFIG_ENV = "SLUICEGATE_CONFIG"


def build_providers(config: GatewayConfig) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for backend in config.backends:
        try:
            providers[backend.name] = build_provider(backend)
        except UnsupportedBackend as exc:
            log.warning("%s; its models are unavailable", exc)
    return providers


def new_limit_store(redis_url: str | None) -> LimitStore:
    return RedisLimitStore(redis_url) if redis_url else MemoryLimitStore()


class Gateway:
    """The ASGI application: HTTP goes to the proxy, lifespan opens and closes resources."""

    def __init__(self, config: GatewayConfig, bus: HookBus | None = None) -> None:
        self.config = config
        self.bus = bus or HookBus()
        self.providers = build_providers(config)
        self.state = ProxyState(
            keys=KeyStore.from_config(config.server.master_key, config.users),
            table=ModelTable.from_config(config, self.providers),
            bus=self.bus,
            max_body_bytes=config.server.max_body_bytes,
            keepalive_seconds=config.server.keepalive_seconds,
            detail_stream_mode=config.logging.detail_stream_log_mode,
        )
        self.proxy = ProxyApp(self.state)
        # Metrics first: its `before` counts the request in flight even if a later hook (the
        # limiter) refuses it, and its `after` always balances that.
        self.metrics = MetricsHook(self.state.health.rows)
        self.bus.add(self.metrics)
        self.state.render_metrics = self.metrics.render
        self.bus.add(LimitHook(new_limit_store(config.redis.url)))
        for hook in config.hooks:
            self.bus.add(load_hook(hook.class_, hook.options))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.proxy(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        await self.bus.start()
        self.state.ready = True

    async def shutdown(self) -> None:
        self.state.ready = False
        await self.bus.close()
        for provider in self.providers.values():
            await provider.aclose()


def build_app(config: GatewayConfig, bus: HookBus | None = None) -> Gateway:
    return Gateway(config, bus)


def create_app(env: Mapping[str, str] | None = None) -> Gateway:
    """uvicorn factory: each worker process loads the config named by SLUICEGATE_CONFIG."""
    env = os.environ if env is None else env
    return build_app(load_config(env.get(CONFIG_ENV) or None, env))
