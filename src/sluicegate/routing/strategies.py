"""Pure choosers: given a route's targets (and what the health board knows), the order in which
to try them. The first element is the strategy's pick; the rest follow as retry candidates."""

from __future__ import annotations

import random
from collections.abc import Callable

from .health import HealthBoard
from .table import Route, Target


def _pick_first(targets: list[Target], first: Target) -> list[Target]:
    return [first, *(t for t in targets if t is not first)]


def weighted(route: Route, board: HealthBoard) -> list[Target]:
    """First target drawn at random in proportion to its weight."""
    targets = route.targets
    if len(targets) == 1:
        return targets
    return _pick_first(targets, random.choices(targets, weights=[t.weight for t in targets])[0])


def round_robin(route: Route, board: HealthBoard) -> list[Target]:
    targets = route.targets
    start = route.cursor % len(targets)
    route.cursor = start + 1
    return targets[start:] + targets[:start]


def least_busy(route: Route, board: HealthBoard) -> list[Target]:
    """Fewest requests in flight in this worker first; ties keep configured order."""
    return sorted(route.targets, key=lambda t: board.of(t).inflight)


def lowest_latency(route: Route, board: HealthBoard) -> list[Target]:
    """Lowest average latency first; a target never measured goes first so it gets measured."""

    def key(target: Target) -> float:
        latency = board.of(target).latency
        return -1.0 if latency is None else latency

    return sorted(route.targets, key=key)


STRATEGIES: dict[str, Callable[[Route, HealthBoard], list[Target]]] = {
    "weighted": weighted,
    "round_robin": round_robin,
    "least_busy": least_busy,
    "lowest_latency": lowest_latency,
}


def order(route: Route, board: HealthBoard) -> list[Target]:
    return STRATEGIES[route.strategy](route, board)
