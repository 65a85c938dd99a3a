"""Guardrail: the contract of one configured check, and the shared block-or-mask loop.

A text guardrail (`regex`, `pii`) only says how to mask one text (`mask`, returning the same
object when nothing matched); blocking is "masking would change something". Keeping one
primitive means block and mask can never disagree about what matches.
"""

from __future__ import annotations

from ..config.content import GuardrailConfig
from ..errors import ContentFiltered


class Guardrail:
    """One configured guardrail; subclasses implement `check` (or `mask` for text ones)."""

    __slots__ = ("action", "name", "on_input", "on_output")

    def __init__(self, config: GuardrailConfig) -> None:
        self.name = config.name
        self.action = config.action
        self.on_input = config.on in ("input", "both")
        self.on_output = config.on in ("output", "both")

    def check(self, texts: list[str]) -> bool:
        """Mask `texts` in place and say whether anything changed; raise `ContentFiltered` to
        block."""
        raise NotImplementedError

    def matches(self, text: str) -> bool:
        """Whether `text` holds something this guardrail acts on (the stream window's test)."""
        raise NotImplementedError


class TextGuardrail(Guardrail):
    """A guardrail that looks at each text on its own."""

    __slots__ = ()

    def mask(self, text: str) -> str:
        """`text` with every match replaced; the very same object when nothing matched."""
        raise NotImplementedError

    def matches(self, text: str) -> bool:
        return self.mask(text) is not text

    def check(self, texts: list[str]) -> bool:
        if self.action == "block":
            for text in texts:
                if self.matches(text):
                    raise ContentFiltered(self.name)
            return False
        acted = False
        for i, text in enumerate(texts):
            masked = self.mask(text)
            if masked is not text:
                texts[i] = masked
                acted = True
        return acted
