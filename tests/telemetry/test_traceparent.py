"""W3C `traceparent` parsing and writing (telemetry/traceparent.py): what is valid, what starts
a new trace, what is forwarded with telemetry off."""

from __future__ import annotations

import pytest

from sluicegate.telemetry import traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01".encode()


def test_a_valid_header_gives_its_trace_parent_and_sampled_flag() -> None:
    assert traceparent.parse(VALID) == (int(TRACE, 16), int(SPAN, 16), True)
    assert traceparent.parse(VALID[:-2] + b"00") == (int(TRACE, 16), int(SPAN, 16), False)
    assert traceparent.parse(VALID[:-2] + b"03") == (int(TRACE, 16), int(SPAN, 16), True)


@pytest.mark.parametrize(
    "value",
    [
        b"",
        VALID.upper(),  # hex must be lower case
        VALID[:-1],  # short
        VALID + b"-more",  # version 00 has exactly four fields
        b"ff" + VALID[2:],  # version ff is invalid
        f"00-{'0' * 32}-{SPAN}-01".encode(),  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01".encode(),  # all-zero parent id
        f"00-{TRACE}-{SPAN}-1".encode(),
        f"00_{TRACE}_{SPAN}_01".encode(),
        f"00-{TRACE[:-1]}g-{SPAN}-01".encode(),
        VALID + b"\n",
        b"01" + VALID[2:] + b"-\xff",  # a later version's fields are visible ASCII
    ],
)
def test_an_invalid_header_is_refused(value: bytes) -> None:
    assert traceparent.parse(value) is None
    assert traceparent.forwarded(value, b"k=v") is None


def test_a_later_version_may_carry_more_fields() -> None:
    assert traceparent.parse(b"01" + VALID[2:] + b"-what-comes") == (
        int(TRACE, 16),
        int(SPAN, 16),
        True,
    )


def test_start_continues_the_clients_trace_or_begins_one() -> None:
    continued = traceparent.start(VALID, b"vendor=x")
    assert (continued.trace_id, continued.parent_id) == (int(TRACE, 16), int(SPAN, 16))
    assert continued.sampled and continued.tracestate == "vendor=x"
    assert continued.span_id not in (0, int(SPAN, 16))
    fresh = traceparent.start(None, b"vendor=x")
    assert fresh.parent_id == 0 and fresh.trace_id and fresh.sampled
    assert fresh.tracestate is None  # no parent, no state to carry
    assert traceparent.start(None, None).trace_id != fresh.trace_id


def test_attempt_headers_name_the_attempts_span() -> None:
    trace = traceparent.start(VALID, b"vendor=x")
    headers = traceparent.attempt_headers(trace, 0xABC)
    assert headers == {"traceparent": f"00-{TRACE}-0000000000000abc-01", "tracestate": "vendor=x"}
    assert traceparent.parse(headers["traceparent"].encode()) == (int(TRACE, 16), 0xABC, True)
    unsampled = traceparent.start(VALID[:-2] + b"00", None)
    assert traceparent.attempt_headers(unsampled, 1) == {
        "traceparent": f"00-{TRACE}-0000000000000001-00"
    }


def test_forwarded_keeps_the_clients_headers_and_drops_an_unusable_tracestate() -> None:
    assert traceparent.forwarded(VALID, b"a=1,b=2") == {
        "traceparent": VALID.decode(),
        "tracestate": "a=1,b=2",
    }
    assert traceparent.forwarded(VALID, None) == {"traceparent": VALID.decode()}
    assert traceparent.forwarded(VALID, "é=1".encode()) == {"traceparent": VALID.decode()}
    assert traceparent.forwarded(VALID, b"a=" + b"x" * 600) == {"traceparent": VALID.decode()}
