"""Backend type → provider class: the one place that knows which provider serves which type."""

from __future__ import annotations

from ..config.schema import BackendConfig
from .anthropic import AnthropicProvider
from .azure import AzureProvider
from .base import Provider
from .demo import DemoProvider
from .gemini import GeminiProvider
from .openai import OpenAIProvider

PROVIDERS: dict[str, type] = {
    "openai": OpenAIProvider,
    "demo": DemoProvider,
    "anthropic": AnthropicProvider,
    "azure": AzureProvider,
    "gemini": GeminiProvider,
}


class UnsupportedBackend(ValueError):
    """Raised for a backend type this version has no provider for yet."""


def build_provider(config: BackendConfig) -> Provider:
    cls = PROVIDERS.get(config.type)
    if cls is None:
        supported = ", ".join(sorted(PROVIDERS))
        raise UnsupportedBackend(
            f"backend '{config.name}': type '{config.type}' is not supported yet "
            f"(supported: {supported})"
        )
    provider: Provider = cls(config)
    return provider
