"""Principal: who is calling, with the per-user settings the proxy needs on the hot path."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Principal:
    """A user (or the master key) as resolved from one API key.

    `allowed_cache` memoizes model-glob matches; it lives here so a config reload, which builds
    new principals, drops it for free.
    """

    user_id: str | None
    user_name: str
    key_id: str | None
    is_master: bool = False
    key_digest: bytes = b""
    model_globs: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: str = "month"
    model_limits: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    detail_logging: bool = False
    copy_reasoning: bool = False
    allowed_cache: dict[str, bool] = field(default_factory=dict)
