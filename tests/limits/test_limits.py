"""Rate limits and budgets end to end (in-memory store), on a gateway of their own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sluicegate.config.schema import DatabaseConfig, GatewayConfig
from sluicegate.limits.periods import period_bounds
from sluicegate.limits.policy import duration
from support import MASTER_KEY, MockUpstream, RunningGateway

KEYS = {name: f"sk-limits-{name}" for name in ("rpm", "tpm", "budget", "model", "free")}


def limits_config(mock_url: str) -> GatewayConfig:
    def user(name: str, **limits: object) -> dict[str, object]:
        return {"name": name, "api_keys": [KEYS[name]], "models": ["*"], **limits}

    return GatewayConfig.model_validate(
        {
            "server": {"master_key": MASTER_KEY},
            "backends": [
                {"name": "mock", "type": "openai", "base_url": mock_url + "/v1", "max_retries": 0}
            ],
            "models": [
                {
                    "name": "m",
                    "targets": [{"backend": "mock", "model": "mock-model"}],
                    "pricing": {"input_per_mtok": 1_000_000, "output_per_mtok": 1_000_000},
                },
                {"name": "free", "targets": [{"backend": "mock", "model": "mock-model"}]},
            ],
            "users": [
                user("rpm", rpm=3),
                user("tpm", tpm=10),
                user("budget", budget_usd=12, budget_period="day"),
                user("model", model_limits={"m": {"rpm": 1}}),
                user("free"),
            ],
        }
    )


@pytest.fixture(scope="module")
def limited(mock: MockUpstream) -> Iterator[RunningGateway]:
    running = RunningGateway(limits_config(mock.url))
    yield running
    running.stop()


def ask(
    gateway: RunningGateway, key: str, text: str, model: str = "m", **extra: object
) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )


def assert_429(response: httpx.Response, code: str) -> dict[str, str]:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", code)
    assert int(response.headers["retry-after"]) >= 1
    return dict(response.headers)


def test_rpm_limit_with_openai_headers(limited: RunningGateway, tag: str) -> None:
    for i in range(3):
        assert ask(limited, KEYS["rpm"], f"{tag} {i}").status_code == 200
    response = ask(limited, KEYS["rpm"], tag)
    headers = assert_429(response, "rate_limit_exceeded")
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    record = limited.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type) == (429, "rate_limited")
    # /v1/models is not an inference request: never limited.
    models = httpx.get(
        limited.url + "/v1/models", headers={"authorization": f"Bearer {KEYS['rpm']}"}
    )
    assert models.status_code == 200


def test_tpm_charged_from_stream_usage_and_refuses_next_request(
    limited: RunningGateway, tag: str
) -> None:
    # 3 prompt words + 8 completion tokens = 11 >= tpm 10, charged when the stream ends.
    response = ask(limited, KEYS["tpm"], f"{tag} #mock chunks=8", stream=True)
    assert response.status_code == 200
    assert limited.completion(response.headers["x-request-id"]).usage.total_tokens == 11
    refused = ask(limited, KEYS["tpm"], tag)
    headers = assert_429(refused, "rate_limit_exceeded")
    assert headers["x-ratelimit-limit-tokens"] == "10"
    assert headers["x-ratelimit-remaining-tokens"] == "0"


def test_budget_exceeded_after_spend_with_retry_after_until_period_end(
    limited: RunningGateway, tag: str
) -> None:
    # Price is $1 per token: each answer costs 3 prompt + 3 completion = $6; budget $12.
    for i in range(2):
        assert ask(limited, KEYS["budget"], f"{tag} {i} x").status_code == 200
    response = ask(limited, KEYS["budget"], tag)
    assert_429(response, "budget_exceeded")
    _, end = period_bounds("day")
    assert abs(int(response.headers["retry-after"]) - (end.timestamp() - time.time())) < 5
    record = limited.completion(response.headers["x-request-id"])
    assert record.error_type == "budget_exceeded"


def test_broken_stream_tokens_are_charged(limited: RunningGateway, tag: str) -> None:
    # No usage arrives on a broken stream: tokens are estimated (and marked so) and charged.
    response = ask(
        limited, KEYS["free"], f"{tag} #mock chunks=6 disconnect_after=3", model="free", stream=True
    )
    record = limited.completion(response.headers["x-request-id"])
    assert record.error_type == "upstream_disconnected"
    assert record.usage.estimated and record.usage.completion_tokens >= 3


def test_per_model_limit(limited: RunningGateway, tag: str) -> None:
    assert ask(limited, KEYS["model"], tag).status_code == 200
    refused = ask(limited, KEYS["model"], tag)
    assert_429(refused, "rate_limit_exceeded")
    assert "for model 'm'" in refused.json()["error"]["message"]
    # Other models are not held by that limit.
    assert ask(limited, KEYS["model"], tag, model="free").status_code == 200


def test_reset_duration_format() -> None:
    assert duration(1) == "1s"
    assert duration(0.5) == "0.5s"
    assert duration(360) == "6m0s"


def test_budget_spend_survives_a_restart(mock: MockUpstream, tmp_path, tag: str) -> None:
    """The in-memory budget starts from the period's spend in the request log."""
    config = limits_config(mock.url).model_copy(
        update={"database": DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/budget.db")}
    )
    first = RunningGateway(config)
    try:
        for i in range(2):
            assert ask(first, KEYS["budget"], f"{tag} {i} x").status_code == 200
        assert_429(ask(first, KEYS["budget"], tag), "budget_exceeded")
    finally:
        first.stop()  # graceful: the request log is flushed
    second = RunningGateway(config)
    try:
        assert_429(ask(second, KEYS["budget"], tag), "budget_exceeded")
        assert ask(second, KEYS["free"], tag, model="free").status_code == 200
    finally:
        second.stop()


def test_memory_windows_stay_small_at_high_rates() -> None:
    """Bucketed windows: thousands of requests a second hold a few hundred entries at most,
    and the count stays exact."""
    import asyncio

    from sluicegate.limits.store import MemoryLimitStore
    from sluicegate.limits.verdict import Scope

    async def run() -> tuple[int, int, bool]:
        store = MemoryLimitStore()
        scopes = [Scope("user", 5000, None)]
        verdicts = [await store.admit("hot", scopes, None, "b") for _ in range(5001)]
        window = store._windows["hot|user|r"]
        return len(window.entries), window.total, verdicts[-1].admitted

    entries, total, last_admitted = asyncio.run(run())
    assert entries <= 600 and total == 5000 and not last_admitted
