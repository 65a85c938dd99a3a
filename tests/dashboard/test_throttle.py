"""The sign-in throttle's schedule, on a clock the test moves."""

from __future__ import annotations

from sluicegate.dashboard.throttle import BASE, FORGET_AFTER, FREE, MAX_LOCK, SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_failures_cost_nothing_then_locks_double() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE - 1):
        throttle.failed("ip")
        assert throttle.locked_for("ip") == 0
    throttle.failed("ip")
    assert throttle.locked_for("ip") == BASE
    clock.now += BASE
    assert throttle.locked_for("ip") == 0
    throttle.failed("ip")
    assert throttle.locked_for("ip") == 2 * BASE
    assert throttle.locked_for("other") == 0


def test_lock_is_capped() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE + 30):
        throttle.failed("ip")
    assert throttle.locked_for("ip") == MAX_LOCK


def test_success_and_time_forget_failures() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE):
        throttle.failed("ip")
    throttle.succeeded("ip")
    assert throttle.locked_for("ip") == 0
    for _ in range(FREE):
        throttle.failed("ip")
    clock.now += FORGET_AFTER + 1
    assert throttle.locked_for("ip") == 0
    throttle.failed("ip")
    assert throttle.locked_for("ip") == 0  # counting starts again
