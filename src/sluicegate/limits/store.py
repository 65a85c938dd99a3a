"""Limit counters: sliding 60 s windows of requests and tokens, and budget spend per period.

Two implementations with one contract: `MemoryLimitStore` (one process) and `RedisLimitStore`
(every worker and instance sharing one Redis). In Redis, a check-and-record and a charge are
each one Lua script, so they are atomic: two gateways can never both admit the request that
fills a window. Windows are sorted sets of timestamped entries (exact sliding windows, not
fixed buckets); the clock is Redis's own `TIME`, so instances with skewed clocks agree.

Redis errors are mapped here, at the boundary, to `LimitStoreUnavailable`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterator
from random import getrandbits
from typing import Protocol

from ..errors import LimitStoreUnavailable
from .scripts import ADMIT, CHARGE
from .verdict import Scope, Verdict

__all__ = ["LimitStore", "LimitStoreUnavailable", "MemoryLimitStore", "RedisLimitStore"]

WINDOW = 60.0
BUCKET = 0.1


class LimitStore(Protocol):
    async def admit(
        self, user: str, scopes: list[Scope], budget: float | None, budget_key: str
    ) -> Verdict:
        """Check every scope and the budget; when all pass, count this request."""
        ...

    async def charge(
        self,
        user: str,
        scopes: list[Scope],
        tokens: int,
        cost: float,
        budget_key: str,
        budget_ttl: float,
    ) -> None:
        """Add a finished request's tokens to the token windows and its cost to the spend."""
        ...

    async def seed_spend(self, user: str, budget_key: str, amount: float, ttl: float) -> None:
        """Set the spend of a period unless already known (startup, from the request log)."""
        ...

    async def close(self) -> None: ...


class _Window:
    """A sliding window as 100 ms buckets: at most 600 entries whatever the request rate (an
    entry per request would hold 240,000 of them for a user at 4,000 requests/s). An amount
    leaves the window 60 s after the start of its bucket, so at most 0.1 s early."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[list[float]] = deque()  # [bucket start, amount]
        self.total = 0

    def add(self, now: float, amount: int) -> None:
        bucket = now - now % BUCKET
        entries = self.entries
        if entries and entries[-1][0] == bucket:
            entries[-1][1] += amount
        else:
            entries.append([bucket, amount])
        self.total += amount

    def prune(self, cutoff: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= cutoff:
            self.total -= int(entries.popleft()[1])

    def reset_in(self, now: float) -> float:
        return self.entries[0][0] + WINDOW - now if self.entries else 0.0


class MemoryLimitStore:
    """Exact sliding windows in this process; the default without `redis.url`.

    Every key starts with the user id, like the Redis store's `sg:{user}:` prefix: a counter
    shared between users would let one user's traffic refuse another's."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._spend: dict[str, float] = {}

    def _window(self, key: str) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        return window

    async def admit(
        self, user: str, scopes: list[Scope], budget: float | None, budget_key: str
    ) -> Verdict:
        now = time.time()
        cutoff = now - WINDOW
        first: tuple[int, int, float, float] | None = None
        for scope in scopes:
            requests = self._window(f"{user}|{scope.name}|r")
            tokens = self._window(f"{user}|{scope.name}|t")
            requests.prune(cutoff)
            tokens.prune(cutoff)
            numbers = (
                requests.total,
                tokens.total,
                requests.reset_in(now),
                tokens.reset_in(now),
            )
            first = first or numbers
            if scope.rpm is not None and numbers[0] >= scope.rpm:
                return Verdict(False, "rpm", scope, *numbers)
            if scope.tpm is not None and numbers[1] >= scope.tpm:
                return Verdict(False, "tpm", scope, *numbers)
        spent = self._spend.get(f"{user}|{budget_key}", 0.0)
        if budget is not None and spent >= budget:
            return Verdict(False, "budget", None, *(first or (0, 0, 0.0, 0.0)), spent=spent)
        for scope in scopes:
            if scope.rpm is not None:
                self._window(f"{user}|{scope.name}|r").add(now, 1)
        requests, tokens, r_reset, t_reset = first or (0, 0, 0.0, 0.0)
        return Verdict(
            True,
            None,
            scopes[0] if scopes else None,
            requests + 1,
            tokens,
            r_reset or WINDOW,
            t_reset,
            spent,
        )

    async def charge(
        self,
        user: str,
        scopes: list[Scope],
        tokens: int,
        cost: float,
        budget_key: str,
        budget_ttl: float,
    ) -> None:
        self.charge_now(user, scopes, tokens, cost, budget_key)

    def charge_now(
        self, user: str, scopes: list[Scope], tokens: int, cost: float, budget_key: str
    ) -> None:
        """Synchronous charge, so the user's very next request already sees it."""
        now = time.time()
        if tokens > 0:
            for scope in scopes:
                if scope.tpm is not None:
                    self._window(f"{user}|{scope.name}|t").add(now, tokens)
        if cost > 0:
            key = f"{user}|{budget_key}"
            self._spend[key] = self._spend.get(key, 0.0) + cost

    async def seed_spend(self, user: str, budget_key: str, amount: float, ttl: float) -> None:
        self._spend.setdefault(f"{user}|{budget_key}", amount)

    async def close(self) -> None:
        return None


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    import redis.exceptions

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise LimitStoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc


# Connections per process to Redis for limits. Each admit or charge holds one for one round
# trip (well under a millisecond), so 32 carry thousands of requests per second; a burst
# beyond that waits for a free connection (up to POOL_WAIT_SECONDS) instead of failing.
# (redis-py's default pool fails at once past 100, which the limiter saw as Redis down and
# admitted the rest unchecked.)
POOL_SIZE = 32
POOL_WAIT_SECONDS = 2.0


class RedisLimitStore:
    """The same windows in Redis, shared by every worker and instance."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._admit = self._redis.register_script(ADMIT)
        self._charge = self._redis.register_script(CHARGE)

    @staticmethod
    def _keys(user: str, scope: Scope) -> list[str]:
        # The {user} hash tag keeps one user's keys in one Redis Cluster slot.
        base = f"sg:{{{user}}}:{scope.name}"
        return [base + ":r", base + ":t", base + ":tsum"]

    async def admit(
        self, user: str, scopes: list[Scope], budget: float | None, budget_key: str
    ) -> Verdict:
        keys = [k for scope in scopes for k in self._keys(user, scope)]
        keys.append(f"sg:{{{user}}}:{budget_key}")
        args: list[str | int | float] = [len(scopes), WINDOW, -1 if budget is None else budget]
        for scope in scopes:
            args += [-1 if scope.rpm is None else scope.rpm, -1 if scope.tpm is None else scope.tpm]
        args.append(f"{time.time_ns()}-{os.getpid()}-{f'{getrandbits(32):08x}'}")
        with _redis_errors():
            ok, reason, index, requests, tokens, r_reset, t_reset, spent = await self._admit(
                keys=keys, args=args
            )
        scope = scopes[int(index) - 1] if scopes and int(index) >= 1 else None
        reason_text = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Verdict(
            bool(int(ok)),
            reason_text or None,
            scope,
            int(requests),
            int(tokens),
            float(r_reset),
            float(t_reset),
            float(spent),
        )

    async def charge(
        self,
        user: str,
        scopes: list[Scope],
        tokens: int,
        cost: float,
        budget_key: str,
        budget_ttl: float,
    ) -> None:
        with_tpm = [s for s in scopes if s.tpm is not None] if tokens > 0 else []
        keys = [k for scope in with_tpm for k in self._keys(user, scope)[1:]]
        keys.append(f"sg:{{{user}}}:{budget_key}")
        member = f"{time.time_ns()}-{os.getpid()}-{f'{getrandbits(32):08x}'}"
        args = [len(with_tpm), tokens, repr(cost), int(budget_ttl) + 1, member, WINDOW]
        with _redis_errors():
            await self._charge(keys=keys, args=args)

    async def seed_spend(self, user: str, budget_key: str, amount: float, ttl: float) -> None:
        with _redis_errors():
            await self._redis.set(
                f"sg:{{{user}}}:{budget_key}", repr(amount), nx=True, ex=int(ttl) + 1
            )

    async def ping(self) -> bool:
        with _redis_errors():
            return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
