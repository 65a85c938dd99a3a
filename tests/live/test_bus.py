"""LiveBus without a server: cursors, the ring's bounds, filtering, and what it keeps alive."""

from __future__ import annotations

import orjson
import pytest

from sluicegate.errors import InvalidRequest
from sluicegate.live.bus import LiveBus, Subscription
from support import completion


def frames(body: bytes) -> list[tuple[str, str, dict[str, object]]]:
    out = []
    for block in body.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["id"], fields["event"], orjson.loads(fields["data"])))
    return out


def test_each_completion_is_an_audit_and_a_usage_event_with_consecutive_ids() -> None:
    bus = LiveBus(10, epoch="0000abcd")
    bus.publish(completion(1))
    sub = Subscription(0, frozenset({"audit", "usage"}), 10)
    body = bus.take(sub)
    assert body is not None
    assert [(i, e) for i, e, _ in frames(body)] == [
        ("0000abcd-1", "audit.created"),
        ("0000abcd-2", "usage.recorded"),
    ]
    assert sub.cursor == 2 and bus.take(sub) == b""


def test_frames_are_built_once_and_shared() -> None:
    bus = LiveBus(10)
    bus.publish(completion(1))
    first, second = (Subscription(0, frozenset({"audit"}), 10) for _ in range(2))
    a, b = bus.take(first), bus.take(second)
    assert a == b and a is not None
    assert frames(a)[0][1] == "audit.created" and len(frames(a)) == 1


def test_bodies_are_not_kept_by_the_ring() -> None:
    bus = LiveBus(10)
    bus.publish(completion(1, request_body="secret prompt", response_body="answer"))
    entry = bus._ring[1]
    assert entry is not None and entry.completion is not None
    assert entry.completion.request_body is None and entry.completion.response_body is None


def test_cursor_resolution() -> None:
    bus = LiveBus(4, epoch="0000abcd")
    for i in range(3):
        bus.publish(completion(i))  # events 1..6, the ring keeps 3..6
    assert bus.resolve("0000abcd-6") == 6
    assert bus.resolve("0000abcd-2") == 2  # everything after it is still there
    assert bus.resolve("0000abcd-1") is None  # event 2 is gone: reset
    assert bus.resolve("ffffffff-3") is None  # another process or run: reset
    for never in ("0000abcd-7", "abc", "0000abcd-", "0000ABCD-1", "0000abcd-1-2"):
        with pytest.raises(InvalidRequest):
            bus.resolve(never)


def test_a_subscriber_the_ring_overtook_is_reset() -> None:
    bus = LiveBus(4)
    sub = Subscription(0, frozenset({"audit", "usage"}), 4)
    for i in range(3):
        bus.publish(completion(i))
    assert bus.take(sub) is None


def test_an_overflowed_subscriber_takes_nothing_more() -> None:
    sub = Subscription(0, frozenset({"audit"}), 1)
    sub.overflow()
    assert sub.overflowed
    bus = LiveBus(10)
    bus.publish(completion(1))
    assert bus.take(sub) is None
