"""HookBus: runs the `before` hooks and fans each Completion out to the `after` hooks.

Publishing never blocks or fails a request: `after` hooks are plain calls that only enqueue or
count, and one that raises is logged and skipped. Hooks that do not override a method cost
nothing for it (they are not in its list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..guardrails.registry import InputCheck, OutputCheck
from ..record import Completion, RequestInfo
from .base import Hook, overrides

log = logging.getLogger("sluicegate.hooks")

Subscriber = Callable[[Completion], None]


class HookBus:
    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self._before: list[Hook] = []
        self._after: list[Subscriber] = []
        # User guardrail hooks, named; the proxy's guardrail plans run them (proxy/guard.py).
        self.input_checks: list[InputCheck] = []
        self.output_checks: list[OutputCheck] = []

    def add(self, hook: Hook) -> None:
        self.hooks.append(hook)
        if overrides(hook, "before"):
            self._before.append(hook)
        if overrides(hook, "after"):
            self._after.append(hook.after)
        if overrides(hook, "check_input"):
            self.input_checks.append((hook.guardrail_name, hook.check_input))
        if overrides(hook, "check_output"):
            self.output_checks.append((hook.guardrail_name, hook.check_output))

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a bare `after` callable; returns a function that removes it."""
        self._after.append(subscriber)
        return lambda: self._after.remove(subscriber)

    @property
    def has_before(self) -> bool:
        return bool(self._before)

    async def before(self, info: RequestInfo) -> None:
        for hook in self._before:
            await hook.before(info)

    def publish(self, completion: Completion) -> None:
        for subscriber in self._after:
            try:
                subscriber(completion)
            except Exception:
                log.exception("after hook %r failed", subscriber)

    async def start(self) -> None:
        for hook in self.hooks:
            await hook.start()

    async def close(self) -> None:
        for hook in reversed(self.hooks):
            try:
                await hook.close()
            except Exception:
                log.exception("closing hook %r failed", hook)
