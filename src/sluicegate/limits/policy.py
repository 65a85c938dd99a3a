"""From a request's limits to store keys, and from a refusing Verdict to the 429 it becomes
(with OpenAI's `x-ratelimit-*` headers and Retry-After)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from ..errors import BudgetExceeded, RateLimited
from ..record import RequestInfo
from .periods import period_bounds
from .verdict import Scope, Verdict


def scopes_of(info: RequestInfo) -> list[Scope]:
    scopes = [Scope("user", info.rpm, info.tpm)]
    if info.model_rpm is not None or info.model_tpm is not None:
        scopes.append(Scope(f"model:{info.model}", info.model_rpm, info.model_tpm))
    return scopes


# period → (key, unix time the period ends): the calendar only changes at the period's end.
_periods: dict[str, tuple[str, float]] = {}


def budget_key(period: str) -> tuple[str, float]:
    """The spend key of the current period and its seconds left (hot path: cached until the
    period ends, so most calls are a dict lookup and a clock read)."""
    now = time.time()
    cached = _periods.get(period)
    if cached is None or now >= cached[1]:
        start, end = period_bounds(period, datetime.now(UTC))
        cached = _periods[period] = (f"budget:{period}:{start.date().isoformat()}", end.timestamp())
    return cached[0], cached[1] - now


def duration(seconds: float) -> str:
    """OpenAI's reset format: `1s`, `6m0s`, `0.5s`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s" if seconds else "0s"
    minutes, rest = divmod(int(seconds + 0.999), 60)
    return f"{minutes}m{rest}s"


def limit_headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    scope = verdict.scope
    headers: list[tuple[bytes, bytes]] = []
    if scope is None:
        return headers
    if scope.rpm is not None:
        headers += [
            (b"x-ratelimit-limit-requests", str(scope.rpm).encode()),
            (b"x-ratelimit-remaining-requests", str(max(0, scope.rpm - verdict.requests)).encode()),
            (b"x-ratelimit-reset-requests", duration(verdict.requests_reset).encode()),
        ]
    if scope.tpm is not None:
        headers += [
            (b"x-ratelimit-limit-tokens", str(scope.tpm).encode()),
            (b"x-ratelimit-remaining-tokens", str(max(0, scope.tpm - verdict.tokens)).encode()),
            (b"x-ratelimit-reset-tokens", duration(verdict.tokens_reset).encode()),
        ]
    return headers


def dollars(amount: float) -> str:
    """An amount of USD with its significant digits, never rounded to zero or shown in
    scientific notation: `12.50`, `0.123`, `0.00003`."""
    if amount >= 1 or amount <= 0:
        return f"{amount:.2f}"
    places = 2 - math.floor(math.log10(amount))  # three significant digits
    text = f"{amount:.{places}f}".rstrip("0")
    return text + "0" * (2 - len(text.split(".")[1]))


def refusal(verdict: Verdict, info: RequestInfo, period_left: float) -> RateLimited:
    if verdict.reason == "budget":
        return BudgetExceeded(
            f"Budget of ${dollars(info.budget_usd or 0.0)} for this {info.budget_period} "
            f"is spent (${dollars(verdict.spent)}).",
            retry_after=period_left,
            limit_headers=[],
        )
    scope = verdict.scope
    where = "" if scope is None or scope.name == "user" else f" for model '{info.model}'"
    if verdict.reason == "rpm":
        message = f"Rate limit reached: {scope.rpm if scope else '?'} requests per minute{where}."
        retry = verdict.requests_reset
    else:
        message = f"Rate limit reached: {scope.tpm if scope else '?'} tokens per minute{where}."
        retry = verdict.tokens_reset
    return RateLimited(message, retry_after=retry, limit_headers=limit_headers(verdict))
