"""Fan-out of each Completion to its subscribers; publishing never blocks or fails a request.

Subscribers are plain callables run synchronously in the request's task: they must only
enqueue or count (the request log batches its writes in a task of its own). A subscriber that
raises is logged and skipped, never propagated to the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..record import Completion

log = logging.getLogger("sluicegate.hooks")

Subscriber = Callable[[Completion], None]


class CompletionBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, completion: Completion) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(completion)
            except Exception:
                log.exception("completion subscriber %r failed", subscriber)
