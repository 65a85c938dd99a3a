"""The built-in limiter hook: RPM/TPM/budget checked before the call, tokens and cost charged
after it (streams and broken streams included), in memory or in Redis. A cache hit counts as
a request (RPM) but is charged neither tokens (TPM) nor cost (budget): no upstream served it.

If the shared store is unreachable the request is admitted (fail open) and a warning logged:
a Redis outage must not take every model down with it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..limits.policy import budget_key, refusal, scopes_of
from ..limits.store import LimitStore, LimitStoreUnavailable, MemoryLimitStore
from ..record import Completion, RequestInfo
from .base import Hook

log = logging.getLogger("sluicegate.limits")


class LimitHook(Hook):
    def __init__(self, store: LimitStore) -> None:
        self.store = store
        self._memory = store if isinstance(store, MemoryLimitStore) else None
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_at = 0.0

    async def before(self, info: RequestInfo) -> None:
        if not info.limited or info.user_id is None:
            return
        key, period_left = budget_key(info.budget_period)
        try:
            verdict = await self.store.admit(info.user_id, scopes_of(info), info.budget_usd, key)
        except LimitStoreUnavailable as exc:
            self._warn(exc)
            return
        if not verdict.admitted:
            raise refusal(verdict, info, period_left)

    def after(self, completion: Completion) -> None:
        info = completion.info
        if info is None or info.user_id is None or not info.limited or completion.cache_hit:
            return
        usage = completion.usage
        if usage.total_tokens <= 0 and completion.cost_usd <= 0:
            return
        key, period_left = budget_key(info.budget_period)
        if self._memory is not None:
            self._memory.charge_now(
                info.user_id, scopes_of(info), usage.total_tokens, completion.cost_usd, key
            )
            return
        charge = self.store.charge(
            info.user_id,
            scopes_of(info),
            usage.total_tokens,
            completion.cost_usd,
            key,
            period_left + 86400,
        )
        task = asyncio.get_running_loop().create_task(self._run(charge))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, charge: object) -> None:
        try:
            await charge  # type: ignore[misc]
        except LimitStoreUnavailable as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 10:
            self._warned_at = now
            log.warning("limit store unavailable, admitting requests: %s", exc)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()
