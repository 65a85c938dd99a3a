"""W3C Trace Context on the hot path: the client's `traceparent` read, ids made, the upstream's
written. No OpenTelemetry import: this runs on every request, so it is a regex and a few ints.

    client ── traceparent: 00-T-C-01 ──▶ gateway  request span S (parent C, trace T)
                                           └─ attempt span A1 ──▶ upstream  traceparent: 00-T-A1-01
                                           └─ attempt span A2 ──▶ upstream  traceparent: 00-T-A2-01

With telemetry off the gateway is no participant: a valid `traceparent` (and its `tracestate`)
is forwarded upstream unchanged, so the upstream's spans still join the client's trace.
"""

from __future__ import annotations

import re
from random import Random

from ..record import TraceIds

# version-traceid-parentid-flags; a later version may append fields after a dash (W3C 3.3),
# taken as visible ASCII only, since a valid header is forwarded as it came.
_TRACEPARENT = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?"
)
_TRACESTATE_MAX = 512  # W3C lets a vendor drop tracestate it cannot carry

# Our own generator, like request ids (proxy/dispatch.py): no syscall per request, and code
# reseeding the global `random` cannot make ids repeat. Trace ids need uniqueness, not secrecy.
_ids = Random()


def parse(value: bytes | None) -> tuple[int, int, bool] | None:
    """(trace id, parent span id, sampled) of a valid `traceparent`, else None."""
    if value is None:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    version, trace, parent, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    trace_id, parent_id = int(trace, 16), int(parent, 16)
    if not trace_id or not parent_id:
        return None
    return trace_id, parent_id, bool(int(flags, 16) & 1)


def valid_tracestate(value: bytes | None) -> str | None:
    if value is None or len(value) > _TRACESTATE_MAX or not value.isascii():
        return None
    text = value.decode("ascii")
    return text if text.isprintable() else None


def new_span_id() -> int:
    span_id = _ids.getrandbits(64)
    while not span_id:  # all zeros is invalid; one draw in 2**64
        span_id = _ids.getrandbits(64)
    return span_id


def start(traceparent: bytes | None, tracestate: bytes | None) -> TraceIds:
    """The request's ids: the client's trace when it sent a valid `traceparent`, else a new one
    (sampled). A client's unsampled flag is kept: that request is propagated, not exported."""
    parent = parse(traceparent)
    if parent is None:
        trace_id = _ids.getrandbits(128) or 1
        return TraceIds(trace_id, new_span_id(), 0, True)
    trace_id, parent_id, sampled = parent
    return TraceIds(trace_id, new_span_id(), parent_id, sampled, valid_tracestate(tracestate))


def header(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def attempt_headers(trace: TraceIds, span_id: int) -> dict[str, str]:
    """Headers for one upstream attempt whose span is `span_id`."""
    headers = {"traceparent": header(trace.trace_id, span_id, trace.sampled)}
    if trace.tracestate:
        headers["tracestate"] = trace.tracestate
    return headers


def forwarded(traceparent: bytes | None, tracestate: bytes | None) -> dict[str, str] | None:
    """Telemetry off: the client's own headers, unchanged, when its `traceparent` is valid."""
    if traceparent is None or parse(traceparent) is None:
        return None
    headers = {"traceparent": traceparent.decode("ascii")}
    state = valid_tracestate(tracestate)
    if state:
        headers["tracestate"] = state
    return headers
