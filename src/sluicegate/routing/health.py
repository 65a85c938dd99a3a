"""Per-target health in this process: in-flight count, latency average, and a circuit breaker.

    closed ──(cooldown.failures consecutive failures)──► open ──(cooldown.seconds, or the
      ▲                                                   │      upstream's Retry-After if longer)
      │                                                   ▼
      └────────────── probe succeeds ───────────── half-open: one probe at a time
                                                    probe fails ──► open again

Failures are what `errors.counts_against_target` says (connect errors, timeouts, 408, 429, 5xx,
a stream broken by the upstream); a client's 4xx counts neither way. State is per worker
process: a target that fails here leaves this worker's rotation at once. With Redis
(`cluster.breakers`), the board also tells a `BreakerListener` when a breaker opens or closes
and takes the other processes' transitions through `apply_open`/`apply_close`, so the others
skip the target too; the hot path never waits for that (decision 28).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from .table import Target

_EWMA_ALPHA = 0.3


@dataclass(slots=True)
class TargetHealth:
    inflight: int = 0
    latency: float | None = None  # EWMA of seconds to first byte / whole answer
    failures: int = 0  # consecutive
    open_until: float = 0.0
    probing: bool = False  # half-open probe under way

    def state(self, now: float) -> str:
        if self.open_until == 0.0:
            return "closed"
        return "open" if now < self.open_until else "half_open"


class BreakerListener(Protocol):
    """Told of this process's own breaker transitions; must return at once (no I/O)."""

    def opened(self, backend: str, model: str, seconds: float) -> None: ...

    def closed(self, backend: str, model: str) -> None: ...


class HealthBoard:
    def __init__(self) -> None:
        self._health: dict[tuple[str, str], TargetHealth] = {}
        self.listener: BreakerListener | None = None

    def of(self, target: Target) -> TargetHealth:
        key = (target.backend, target.model)
        health = self._health.get(key)
        if health is None:
            health = self._health[key] = TargetHealth()
        return health

    def cooling(self, target: Target, now: float | None = None) -> bool:
        """True while the breaker is open, or half-open with its one probe already out."""
        health = self._health.get((target.backend, target.model))
        if health is None or health.open_until == 0.0:
            return False
        now = time.monotonic() if now is None else now
        return now < health.open_until or health.probing

    def started(self, target: Target) -> None:
        health = self.of(target)
        health.inflight += 1
        if health.open_until and time.monotonic() >= health.open_until:
            health.probing = True

    def released(self, target: Target) -> None:
        health = self.of(target)
        health.inflight = max(0, health.inflight - 1)

    def succeeded(self, target: Target, latency: float) -> None:
        health = self.of(target)
        self._close(target, health)
        health.latency = (
            latency
            if health.latency is None
            else health.latency + _EWMA_ALPHA * (latency - health.latency)
        )

    def reachable(self, target: Target) -> None:
        """The target answered, with the client's fault (a 4xx): it is up, close the breaker."""
        self._close(target, self.of(target))

    def _close(self, target: Target, health: TargetHealth) -> None:
        health.failures = 0
        if health.open_until:
            health.open_until = 0.0
            if self.listener is not None:
                self.listener.closed(target.backend, target.model)
        health.probing = False

    def failed(self, target: Target, retry_after: float | None = None) -> None:
        health = self.of(target)
        health.failures += 1
        cooldown = target.provider.config.cooldown
        if health.probing or health.failures >= cooldown.failures:
            seconds = max(cooldown.seconds, retry_after or 0.0)
            health.open_until = time.monotonic() + seconds
            if self.listener is not None:
                self.listener.opened(target.backend, target.model, seconds)
        health.probing = False

    # Another process's transitions (cluster.breakers) ------------------------------------

    def apply_open(self, backend: str, model: str, seconds: float) -> None:
        """Open (or keep open at least this long) a breaker another process opened."""
        if seconds <= 0:
            return
        health = self._health.get((backend, model))
        if health is None:
            health = self._health[(backend, model)] = TargetHealth()
        health.open_until = max(health.open_until, time.monotonic() + seconds)

    def apply_close(self, backend: str, model: str) -> None:
        """Another process saw the target answer: close this breaker too."""
        health = self._health.get((backend, model))
        if health is not None and health.open_until:
            health.failures = 0
            health.open_until = 0.0

    def rows(self) -> list[tuple[str, str, str, int, int]]:
        """(backend, model, breaker state, consecutive failures, in flight) per known target."""
        now = time.monotonic()
        return [
            (backend, model, h.state(now), h.failures, h.inflight)
            for (backend, model), h in self._health.items()
        ]
