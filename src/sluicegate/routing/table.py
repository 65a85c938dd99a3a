"""The model table: public model name → Route, built from config and swapped whole on reload.

A name listed under `models:` resolves to its configured route; any other name of the form
`<backend>/<model>` resolves to a one-target route on that backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.schema import GatewayConfig, PricingConfig
from ..errors import ModelNotFound
from ..providers.base import Provider


@dataclass(slots=True, eq=False)
class Target:
    """One (backend, upstream model) pair a route may send to."""

    provider: Provider
    model: str
    weight: float = 1.0
    pricing: PricingConfig = field(default_factory=PricingConfig)

    @property
    def backend(self) -> str:
        return self.provider.name


@dataclass(slots=True, eq=False)
class Route:
    name: str
    targets: list[Target]
    strategy: str = "weighted"
    fallbacks: tuple[str, ...] = ()
    pricing: PricingConfig = field(default_factory=PricingConfig)
    guardrails: tuple[str, ...] | None = None  # None: every configured guardrail
    stream_resume_attempts: int = 0
    # Mutable cursor for round_robin; a plain int is enough with one event loop per worker.
    cursor: int = 0


class ModelTable:
    def __init__(self, routes: dict[str, Route], providers: dict[str, Provider]) -> None:
        self._routes = routes
        self._providers = providers
        self._direct: dict[str, Route] = {}

    @classmethod
    def from_config(cls, config: GatewayConfig, providers: dict[str, Provider]) -> ModelTable:
        routes = {
            m.name: Route(
                name=m.name,
                targets=[
                    Target(providers[t.backend], t.model, t.weight, m.pricing) for t in m.targets
                ],
                strategy=m.strategy,
                fallbacks=tuple(m.fallbacks),
                pricing=m.pricing,
                guardrails=None if m.guardrails is None else tuple(m.guardrails),
                stream_resume_attempts=m.stream_resume_attempts,
            )
            for m in config.models
            if all(t.backend in providers for t in m.targets)
        }
        return cls(routes, providers)

    @property
    def providers(self) -> dict[str, Provider]:
        return self._providers

    def resolve(self, name: str) -> Route:
        route = self._routes.get(name) or self._direct.get(name)
        if route is not None:
            return route
        backend, sep, model = name.partition("/")
        provider = self._providers.get(backend) if sep and model else None
        if provider is None:
            raise ModelNotFound(f"The model '{name}' does not exist.", param="model")
        route = Route(name=name, targets=[Target(provider, model)])
        if len(self._direct) < 10_000:
            self._direct[name] = route
        return route

    def get(self, name: str) -> Route | None:
        return self._routes.get(name)

    def public_names(self) -> list[tuple[str, str]]:
        """(id, owner) pairs for /v1/models: configured models, then declared backend models."""
        names = [(name, "sluicegate") for name in self._routes]
        for provider in self._providers.values():
            names.extend((f"{provider.name}/{m}", provider.name) for m in provider.config.models)
        return names
