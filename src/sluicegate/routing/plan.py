"""The attempt plan of one request: the route's targets in strategy order, then each fallback's."""

from __future__ import annotations

from collections.abc import Iterator

from .strategies import order
from .table import ModelTable, Route, Target


def attempt_order(table: ModelTable, route: Route) -> Iterator[Target]:
    """Targets to try before the first byte; fallbacks are resolved lazily, each once."""
    yield from order(route)
    seen = {route.name}
    for name in route.fallbacks:
        fallback = table.get(name)
        if fallback is None or name in seen:
            continue
        seen.add(name)
        yield from order(fallback)
