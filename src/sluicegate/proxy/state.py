"""ProxyState: what the hot path reads per request, replaced field by field on reload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..auth.resolver import KeyStore
from ..guardrails.registry import Guardrails
from ..hooks.bus import HookBus
from ..routing.health import HealthBoard
from ..routing.table import ModelTable
from .cached import ProxyCache
from .inflight import Inflight


@dataclass(slots=True)
class ProxyState:
    keys: KeyStore
    table: ModelTable
    bus: HookBus
    max_body_bytes: int
    keepalive_seconds: float
    detail_stream_mode: str = "compact"
    body_timeout_seconds: float = 30.0
    inflight: Inflight = field(default_factory=Inflight)
    health: HealthBoard = field(default_factory=HealthBoard)
    render_metrics: Callable[[], bytes] | None = None
    # Readiness beyond "started": the database answers.
    check_ready: Callable[[], Awaitable[bool]] | None = None
    ready: bool = False
    # telemetry.otlp_endpoint is set: requests get trace ids and spans (SPEC 13).
    tracing: bool = False
    # cache.mode is not off: the response cache (SPEC 12).
    cache: ProxyCache | None = None
    # Configured guardrails and user guardrail hooks; None when there are none (no cost).
    guards: Guardrails | None = None
