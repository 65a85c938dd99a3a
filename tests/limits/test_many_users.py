"""Every limit with several users at once, on both stores: one user's traffic or spend never
counts against another's (a budget keyed by period alone once refused every user after the
first one spent).

Users, all on one gateway: `spender` (no limits) spends first; `tiny` (budget $0.000025) and
`zero` (budget $0.00002, never spends) must not see that spend; `rpm`, `tpm` and `model` hold
one limit each; `big` (budget $100) and `free` (no limits) must never be refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from sluicegate.config.schema import GatewayConfig
from support import MASTER_KEY, MockUpstream, RunningGateway

NAMES = ("spender", "tiny", "zero", "big", "rpm", "tpm", "model", "free")
KEYS = {name: f"sk-many-{name}" for name in NAMES}
# $5 per million tokens: the mock's default answer to a three-word prompt is 3 + 3 tokens,
# so one request costs $0.00003, more than `tiny`'s whole budget.
PRICE = 5.0
ONE_REQUEST = 6 * PRICE / 1e6


def many_users_config(mock_url: str, database: Path, redis_url: str | None) -> GatewayConfig:
    limits: dict[str, dict[str, object]] = {
        "tiny": {"budget_usd": 0.000025},
        "zero": {"budget_usd": 0.00002},
        "big": {"budget_usd": 100},
        "rpm": {"rpm": 2},
        "tpm": {"tpm": 10},
        "model": {"model_limits": {"m": {"rpm": 1}}},
    }
    return GatewayConfig.model_validate(
        {
            "server": {"master_key": MASTER_KEY},
            "database": {"url": f"sqlite+aiosqlite:///{database}"},
            "redis": {"url": redis_url},
            "backends": [
                {"name": "mock", "type": "openai", "base_url": mock_url + "/v1", "max_retries": 0}
            ],
            "models": [
                {
                    "name": "m",
                    "targets": [{"backend": "mock", "model": "mock-model"}],
                    "pricing": {"input_per_mtok": PRICE, "output_per_mtok": PRICE},
                },
                {"name": "other", "targets": [{"backend": "mock", "model": "mock-model"}]},
            ],
            "users": [
                {
                    "name": name,
                    "api_keys": [KEYS[name]],
                    "models": ["*"],
                    "budget_period": "month",
                    **limits.get(name, {}),
                }
                for name in NAMES
            ],
        }
    )


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the in-memory store, else a flushed Redis database."""
    if request.param == "memory":
        yield None
        return
    url: str = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


def ask(gateway: RunningGateway, user: str, text: str, model: str = "m") -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {KEYS[user]}"},
        timeout=20,
    )


def refused_with(response: httpx.Response, code: str) -> str:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def test_every_limit_is_per_user(
    mock: MockUpstream, tmp_path: Path, store_url: str | None, tag: str
) -> None:
    gateway = RunningGateway(many_users_config(mock.url, tmp_path / "gw.db", store_url))
    try:
        # The spender's money is its own: `tiny` and `zero` still have their whole budgets.
        first = ask(gateway, "spender", f"{tag} 1 x")
        assert first.status_code == 200, first.text
        cost = gateway.completion(first.headers["x-request-id"]).cost_usd
        assert cost == pytest.approx(ONE_REQUEST)
        assert ask(gateway, "zero", f"{tag} 2 x").status_code == 200
        assert ask(gateway, "tiny", f"{tag} 3 x").status_code == 200
        # Now `tiny` has spent $0.00003 of $0.000025; the message shows the real amounts.
        message = refused_with(ask(gateway, "tiny", f"{tag} 4 x"), "budget_exceeded")
        assert "$0.000025" in message and "($0.00003)" in message, message
        # `zero` spent as much as `tiny`: refused as well, by its own spend.
        refused_with(ask(gateway, "zero", f"{tag} 5 x"), "budget_exceeded")
        for user in ("spender", "big", "free"):
            assert ask(gateway, user, f"{tag} 6 x").status_code == 200, user

        # RPM: two for `rpm`, then refused; nobody else is held by its window.
        for i in range(2):
            assert ask(gateway, "rpm", f"{tag} r{i} x").status_code == 200
        refused_with(ask(gateway, "rpm", f"{tag} r3 x"), "rate_limit_exceeded")
        for user in ("spender", "free", "tpm", "model"):
            assert ask(gateway, user, f"{tag} r4 x", model="other").status_code == 200, user

        # TPM: `tpm` has used 6 tokens (above); 6 more reach its 10, then it is refused.
        assert ask(gateway, "tpm", f"{tag} t1 x").status_code == 200
        refused_with(ask(gateway, "tpm", f"{tag} t2 x"), "rate_limit_exceeded")
        for user in ("spender", "free", "big"):
            assert ask(gateway, user, f"{tag} t3 x").status_code == 200, user

        # Per model: one request a minute on `m` for `model`, any number on `other`, and
        # other users' requests to `m` neither count nor are held.
        assert ask(gateway, "model", f"{tag} m1 x").status_code == 200
        message = refused_with(ask(gateway, "model", f"{tag} m2 x"), "rate_limit_exceeded")
        assert "for model 'm'" in message
        assert ask(gateway, "model", f"{tag} m3 x", model="other").status_code == 200
        for user in ("spender", "free", "big"):
            assert ask(gateway, user, f"{tag} m4 x").status_code == 200, user
    finally:
        gateway.stop()


def test_budgets_are_seeded_per_user_at_start(
    mock: MockUpstream, tmp_path: Path, store_url: str | None, tag: str
) -> None:
    """A restart (or, with Redis, a flushed Redis) starts each budget from that user's own
    spend in the request log: `tiny` overspent and stays refused, `zero` spent nothing and is
    admitted, whatever order the users are seeded in."""
    config = many_users_config(mock.url, tmp_path / "gw.db", store_url)
    first = RunningGateway(config)
    try:
        assert ask(first, "tiny", f"{tag} 1 x").status_code == 200
        assert ask(first, "spender", f"{tag} 2 x").status_code == 200
    finally:
        first.stop()  # graceful: every log row is written
    if store_url is not None:
        client = redis.Redis.from_url(store_url)
        client.flushdb()
        client.close()
    second = RunningGateway(config)
    try:
        message = refused_with(ask(second, "tiny", f"{tag} 3 x"), "budget_exceeded")
        assert "($0.00003)" in message, message
        assert ask(second, "zero", f"{tag} 4 x").status_code == 200
        assert ask(second, "big", f"{tag} 5 x").status_code == 200
    finally:
        second.stop()
