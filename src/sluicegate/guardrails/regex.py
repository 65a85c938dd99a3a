"""The `regex` guardrail: a pattern from the config, blocked or replaced by `replacement`."""

from __future__ import annotations

import re

from ..config.content import GuardrailConfig
from .base import TextGuardrail

DEFAULT_REPLACEMENT = "[REDACTED]"


class RegexGuardrail(TextGuardrail):
    """Compiled once at config load (the config check already proved it compiles)."""

    __slots__ = ("_pattern", "_replace")

    def __init__(self, config: GuardrailConfig) -> None:
        super().__init__(config)
        self._pattern = re.compile(config.pattern or "")
        replacement = config.replacement if config.replacement is not None else DEFAULT_REPLACEMENT
        # A function, not the string: the replacement is literal text, never `\1` group syntax.
        self._replace = lambda _match: replacement

    def matches(self, text: str) -> bool:
        return self._pattern.search(text) is not None

    def mask(self, text: str) -> str:
        masked, count = self._pattern.subn(self._replace, text)
        return masked if count else text
