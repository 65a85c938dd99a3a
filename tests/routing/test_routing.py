"""Routing and resilience end to end: strategies, fallbacks, the per-target circuit breaker."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from sluicegate.config.schema import BackendConfig, GatewayConfig, PricingConfig
from sluicegate.providers.demo import DemoProvider
from sluicegate.routing.health import HealthBoard
from sluicegate.routing.strategies import least_busy, lowest_latency, weighted
from sluicegate.routing.table import Route, Target
from support import MASTER_KEY, MockUpstream, RunningGateway, free_port, wait_for_http, wait_until

DOWN_PORT = free_port()  # nothing listens here until a test starts a mock on it


def routing_config(mock_url: str) -> GatewayConfig:
    def backend(name: str, url: str, **extra: object) -> dict[str, object]:
        return {
            "name": name,
            "type": "openai",
            "base_url": url + "/v1",
            "max_retries": 0,
            "timeouts": {"connect": 1, "first_token": 5, "idle": 5, "total": 10},
            **extra,
        }

    down = f"http://127.0.0.1:{DOWN_PORT}"
    return GatewayConfig.model_validate(
        {
            "server": {"master_key": MASTER_KEY},
            "backends": [
                backend("up", mock_url),
                backend("up2", mock_url),
                backend("down", down, cooldown={"failures": 2, "seconds": 0.5}),
                backend(
                    "down2",
                    f"http://127.0.0.1:{free_port()}",
                    cooldown={"failures": 1, "seconds": 60},
                ),
            ],
            "models": [
                {
                    "name": "rr",
                    "strategy": "round_robin",
                    "targets": [{"backend": "up", "model": "a"}, {"backend": "up2", "model": "b"}],
                },
                {
                    "name": "busy",
                    "strategy": "least_busy",
                    "targets": [{"backend": "up", "model": "a"}, {"backend": "up2", "model": "b"}],
                },
                {
                    "name": "flaky-first",
                    "strategy": "least_busy",
                    "targets": [{"backend": "down", "model": "x"}, {"backend": "up", "model": "a"}],
                },
                {
                    "name": "all-down",
                    "strategy": "least_busy",
                    "targets": [
                        {"backend": "down2", "model": "x"},
                        {"backend": "down2", "model": "y"},
                    ],
                },
                {
                    "name": "with-fallback",
                    "targets": [{"backend": "up", "model": "a"}],
                    "fallbacks": ["rr"],
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def routed(mock: MockUpstream) -> Iterator[RunningGateway]:
    running = RunningGateway(routing_config(mock.url))
    yield running
    running.stop()


def ask(gateway: RunningGateway, model: str, text: str, **extra: object) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=20,
    )


def attempts(gateway: RunningGateway, response: httpx.Response) -> list[tuple[str, int | None]]:
    record = gateway.completion(response.headers["x-request-id"])
    return [(a.backend, a.status_code) for a in record.attempts]


# Strategies, end to end


def test_round_robin_alternates_targets(
    routed: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    for i in range(4):
        assert ask(routed, "rr", f"{tag} {i}").status_code == 200
    models = [mock.request(f"{tag} {i}")["model"] for i in range(4)]
    assert models in (["a", "b", "a", "b"], ["b", "a", "b", "a"])


def test_least_busy_avoids_the_target_with_a_request_in_flight(
    routed: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    slow = threading.Thread(target=ask, args=(routed, "busy", f"{tag} slow #mock latency_ms=1500"))
    slow.start()
    wait_until(lambda: mock.requests(f"{tag} slow"))
    assert ask(routed, "busy", f"{tag} quick").status_code == 200
    slow.join()
    assert mock.request(f"{tag} slow")["model"] != mock.request(f"{tag} quick")["model"]


# Fallbacks: only before the first byte, never on a client error


def test_no_fallback_on_a_client_4xx(routed: RunningGateway, mock: MockUpstream, tag: str) -> None:
    response = ask(routed, "with-fallback", f"{tag} #mock status=400")
    assert response.status_code == 400
    assert len(mock.requests(tag)) == 1
    assert attempts(routed, response) == [("up", 400)]


def test_fallback_after_upstream_failure(
    routed: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = ask(routed, "with-fallback", f"{tag} #mock status=503 fail_times=1 id={tag}")
    assert response.status_code == 200
    assert [a[1] for a in attempts(routed, response)] == [503, 200]


def test_no_switch_after_the_first_byte(
    routed: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = ask(routed, "with-fallback", f"{tag} #mock chunks=3 disconnect_after=1", stream=True)
    assert '"upstream_disconnected"' in response.text
    assert len(mock.requests(tag)) == 1
    assert attempts(routed, response) == [("up", 200)]


# The circuit breaker


def test_failing_target_leaves_rotation_then_comes_back_when_healthy(
    routed: RunningGateway, tag: str
) -> None:
    # Two consecutive connect failures open the breaker of `down` (cooldown.failures=2).
    for i in range(2):
        response = ask(routed, "flaky-first", f"{tag} {i}")
        assert response.status_code == 200
        assert attempts(routed, response) == [("down", None), ("up", 200)]
    # Open: skipped, and a skipped target is not an attempt.
    response = ask(routed, "flaky-first", f"{tag} open")
    assert attempts(routed, response) == [("up", 200)]
    # Half-open after 0.5 s: one probe; it fails, so the breaker opens again.
    probe = wait_until(
        lambda: (
            (r := ask(routed, "flaky-first", f"{tag} probe"))
            and attempts(routed, r)[0][0] == "down"
            and r
        )
    )
    assert attempts(routed, probe) == [("down", None), ("up", 200)]
    assert attempts(routed, ask(routed, "flaky-first", f"{tag} reopened")) == [("up", 200)]
    # The target recovers: a server now listens on its port; the next probe succeeds and the
    # target is back in rotation (least_busy prefers it again, being first in order).
    revived = subprocess.Popen(
        [sys.executable, "-m", "sluicegate", "mock-upstream", "--port", str(DOWN_PORT)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{DOWN_PORT}/health")
        back = wait_until(
            lambda: (
                (r := ask(routed, "flaky-first", f"{tag} back"))
                and attempts(routed, r) == [("down", 200)]
                and r
            )
        )
        assert back.status_code == 200
        again = ask(routed, "flaky-first", f"{tag} again")
        assert attempts(routed, again) == [("down", 200)]
    finally:
        revived.terminate()
        revived.wait(10)


def test_all_targets_cooling_are_still_tried_in_order(routed: RunningGateway, tag: str) -> None:
    first = ask(routed, "all-down", tag)
    assert first.status_code == 502
    assert attempts(routed, first) == [("down2", None), ("down2", None)]
    board: HealthBoard = routed.app.state.health
    assert all(board.cooling(t) for t in routed.app.state.table.resolve("all-down").targets)
    second = ask(routed, "all-down", tag)
    assert second.status_code == 502
    assert attempts(routed, second) == [("down2", None), ("down2", None)]


# Pure pieces


def _targets(*names: str, weights: tuple[float, ...] = ()) -> Route:
    provider = DemoProvider(BackendConfig(name="demo", type="demo"))
    targets = [
        Target(provider, n, weights[i] if weights else 1.0, PricingConfig())
        for i, n in enumerate(names)
    ]
    return Route(name="r", targets=targets)


def test_weighted_draws_in_proportion_to_weight() -> None:
    random.seed(7)
    route = _targets("a", "b", weights=(3.0, 1.0))
    firsts = [weighted(route, HealthBoard())[0].model for _ in range(4000)]
    share = firsts.count("a") / len(firsts)
    assert 0.70 < share < 0.80


def test_lowest_latency_prefers_the_fastest_and_explores_unmeasured() -> None:
    route = _targets("slow", "fast", "new")
    board = HealthBoard()
    board.succeeded(route.targets[0], 0.5)
    board.succeeded(route.targets[1], 0.1)
    assert [t.model for t in lowest_latency(route, board)] == ["new", "fast", "slow"]


def test_least_busy_orders_by_inflight() -> None:
    route = _targets("a", "b")
    board = HealthBoard()
    board.started(route.targets[0])
    assert [t.model for t in least_busy(route, board)] == ["b", "a"]


def test_breaker_honours_upstream_retry_after() -> None:
    route = _targets("a")
    target = route.targets[0]
    board = HealthBoard()
    for _ in range(3):  # default cooldown: 3 failures, 30 s
        board.failed(target, retry_after=120)
    health = board.of(target)
    assert health.open_until - time.monotonic() > 100
