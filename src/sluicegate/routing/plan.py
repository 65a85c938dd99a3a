"""The attempt plan of one request: the route's targets in strategy order, then each
fallback's, with cooling targets moved behind every available one.

A cooling target is skipped while any other candidate (target or fallback) is available; when
all are cooling they are still tried, in order, rather than failing without a try.
"""

from __future__ import annotations

import time

from .health import HealthBoard
from .strategies import order
from .table import ModelTable, Route, Target


def attempt_order(table: ModelTable, route: Route, board: HealthBoard) -> list[Target]:
    candidates = list(order(route, board))
    seen = {route.name}
    for name in route.fallbacks:
        fallback = table.get(name)
        if fallback is None or name in seen:
            continue
        seen.add(name)
        candidates.extend(order(fallback, board))
    now = time.monotonic()
    available = [t for t in candidates if not board.cooling(t, now)]
    if len(available) == len(candidates):
        return candidates
    return available + [t for t in candidates if board.cooling(t, now)]
