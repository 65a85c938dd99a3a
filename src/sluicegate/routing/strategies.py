"""Pure choosers: given a route's targets, the order in which to try them."""

from __future__ import annotations

import random
from collections.abc import Callable

from .table import Route, Target


def weighted(route: Route) -> list[Target]:
    """First target drawn by weight, the rest in configured order."""
    targets = route.targets
    if len(targets) == 1:
        return targets
    first = random.choices(targets, weights=[t.weight for t in targets])[0]
    return [first, *(t for t in targets if t is not first)]


def round_robin(route: Route) -> list[Target]:
    targets = route.targets
    start = route.cursor % len(targets)
    route.cursor = start + 1
    return targets[start:] + targets[:start]


STRATEGIES: dict[str, Callable[[Route], list[Target]]] = {
    "weighted": weighted,
    "round_robin": round_robin,
}


def order(route: Route) -> list[Target]:
    return STRATEGIES.get(route.strategy, weighted)(route)
