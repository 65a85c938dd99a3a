"""Config sections about request and answer content: the response cache and guardrails.

Split from `schema.py` to keep each module one screenful; `GatewayConfig` holds both. Names
are SPEC section 2's (`cache`, `guardrails`); docs/cache.md and docs/guardrails.md explain them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from .fields import INT_MAX, Name, Strict, Text


class CacheConfig(Strict):
    """Exact-match response cache (SPEC 12); `off` until configured."""

    mode: Literal["off", "memory", "redis"] = "off"
    ttl_seconds: float = Field(default=600.0, gt=0, le=365 * 86400)
    max_entries: int = Field(default=10_000, ge=1, le=INT_MAX)  # memory mode
    scope: Literal["user", "global"] = "user"


PiiEntity = Literal["email", "phone", "credit_card", "iban"]


class GuardrailConfig(Strict):
    """One built-in guardrail; which fields apply depends on `type` (checked below)."""

    name: Name
    type: Literal["regex", "pii", "max_input_tokens"]
    action: Literal["block", "mask"] = "block"
    on: Literal["input", "output", "both"] = "input"
    pattern: Text | None = None  # regex
    replacement: Text | None = None  # regex with action mask; default "[REDACTED]"
    entities: list[PiiEntity] = Field(
        default_factory=lambda: ["email", "phone", "credit_card"], min_length=1
    )
    limit: int | None = Field(default=None, ge=1, le=INT_MAX)  # max_input_tokens

    @model_validator(mode="after")
    def _fields_for_type(self) -> GuardrailConfig:
        if self.type == "regex":
            if not self.pattern:
                raise ValueError(f"guardrail '{self.name}': type regex needs a pattern")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"guardrail '{self.name}': invalid regex pattern ({exc})") from exc
        if self.type == "max_input_tokens":
            if self.limit is None:
                raise ValueError(f"guardrail '{self.name}': type max_input_tokens needs a limit")
            if self.action != "block" or self.on != "input":
                raise ValueError(
                    f"guardrail '{self.name}': max_input_tokens only blocks, and only on input"
                )
        return self
