"""The `max_input_tokens` guardrail: refuses a prompt whose estimated size passes `limit`.

Estimated like the gateway's usage estimate (`record.estimate_tokens`, about 4 characters a
token) over the texts the guardrails see, so no tokenizer runs on the hot path; the estimate
is rough for code, non-English text and images (images are not counted at all).
"""

from __future__ import annotations

from ..config.content import GuardrailConfig
from ..errors import ContentFiltered
from ..record import estimate_tokens
from .base import Guardrail


class MaxInputTokens(Guardrail):
    __slots__ = ("limit",)

    def __init__(self, config: GuardrailConfig) -> None:
        super().__init__(config)
        self.limit = config.limit or 0

    def check(self, texts: list[str]) -> bool:
        if estimate_tokens(sum(map(len, texts))) > self.limit:
            raise ContentFiltered(self.name)
        return False

    def matches(self, text: str) -> bool:
        return False  # input only (the config refuses `on: output`)
