"""LiteLLM proxy configs served as they are (SPEC 11): mapping to a sluicegate config document,
and the `import-litellm` printer."""

from .litellm import Mapped, is_litellm, map_litellm
from .printer import render, warning

__all__ = ["Mapped", "is_litellm", "map_litellm", "render", "warning"]
