"""What a limit check found: admitted or not, why, and the numbers the 429 headers report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """One pair of sliding windows: per user, or per user and model."""

    name: str  # "user" or "model:<name>"
    rpm: int | None
    tpm: int | None


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    reason: str | None = None  # "rpm" | "tpm" | "budget"
    scope: Scope | None = None  # the scope that refused (or the user scope when admitted)
    requests: int = 0  # in the window, this request included when admitted
    tokens: int = 0
    requests_reset: float = 0.0  # seconds until the oldest counted request leaves the window
    tokens_reset: float = 0.0
    spent: float = 0.0
    budget_reset: float = 0.0  # seconds until the budget period ends
