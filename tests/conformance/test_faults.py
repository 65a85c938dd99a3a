"""SPEC 4 on every front door by backend type: each fault is one test, run for the 12 pairs
(ids `door-backend`); `doors.py` says what each door's end, failure and errors look like.

    fault (directive)                 the client sees                        log error_type
    normal stream                     text, one clean end marker             None
    empty=1                           200, empty body: no event, no end      None
    disconnect_after=2                w0 w1, one failure event, no end       upstream_disconnected
    error_event_after=2               the same                               upstream_disconnected
    ttft_ms > first_token             504 JSON error, never a 200            timeout
    status=503 (no retries)           502 JSON error                         upstream_error
    status=429 retry_after=1          429 JSON error, Retry-After: 1         upstream_error
    client hangs up mid-stream        the mock sees the gateway hang up      client_disconnected
    normal, non-stream                200 with the text                      None
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from support import MockUpstream, RunningGateway, wait_until

from .conftest import FIRST_TOKEN_S
from .doors import Event, FrontDoor, parse_sse

SSE_HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def stream(
    http: httpx.Client, door: FrontDoor, backend: str, text: str
) -> tuple[httpx.Response, str]:
    with http.stream("POST", door.path, json=door.body(backend, text, stream=True)) as response:
        return response, response.read().decode()


def check_row(
    gateway: RunningGateway,
    response: httpx.Response,
    door: FrontDoor,
    backend: str,
    status: int,
    error_type: str | None,
    streamed: bool = True,
) -> None:
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.path, row.backend, row.model, row.stream) == (door.path, backend, backend, streamed)
    assert (row.status_code, row.error_type) == (status, error_type)


def check_error(
    response: httpx.Response, door: FrontDoor, status: int, kind: str
) -> tuple[str, str | None]:
    """A JSON error in `door`'s envelope, never a 200 or a stream; its (type, code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    found = door.envelope(response.json())
    want_type, want_code = door.errors[kind]
    if want_type is not None:
        assert found == (want_type, want_code)
    return found


def test_clean_stream_ends_with_the_end_marker(
    door: FrontDoor, backend: str, http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, raw = stream(http, door, backend, f"{tag} #mock chunks=3")
    assert response.status_code == 200
    assert {k: response.headers[k].split(";")[0] for k in SSE_HEADERS} == SSE_HEADERS
    events = parse_sse(raw)
    door.check_framing(events)
    assert door.texts(events) == ["w0 ", "w1 ", "w2 "]
    assert door.is_end(events[-1]) and sum(map(door.is_end, events)) == 1
    assert not any(map(door.is_failure, events)) and any(map(door.claims_finish, events))
    if door.id != "chat":
        assert "[DONE]" not in raw
    check_row(gateway, response, door, backend, 200, None)


def test_empty_upstream_stream_is_an_empty_200(
    door: FrontDoor, backend: str, http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    # SPEC 4.3 on every door: no event to frame, so no message_start / response.created,
    # and no end marker (docs/providers.md, "Fault matrix").
    response, raw = stream(http, door, backend, f"{tag} #mock empty=1")
    assert (response.status_code, raw) == (200, "")
    check_row(gateway, response, door, backend, 200, None)


@pytest.mark.parametrize("fault", ["disconnect_after=2", "error_event_after=2"])
def test_mid_stream_failure_is_one_failure_event(
    door: FrontDoor,
    backend: str,
    http: httpx.Client,
    gateway: RunningGateway,
    tag: str,
    fault: str,
) -> None:
    response, raw = stream(http, door, backend, f"{tag} #mock chunks=5 {fault}")
    assert response.status_code == 200
    events = parse_sse(raw)
    door.check_framing(events)
    assert door.texts(events) == ["w0 ", "w1 "]
    failures: list[Event] = [e for e in events if door.is_failure(e)]
    assert failures == [events[-1]]
    assert not any(map(door.is_end, events)) and "[DONE]" not in raw
    assert not any(map(door.claims_finish, events))
    check_row(gateway, response, door, backend, 200, "upstream_disconnected")


def test_first_token_timeout_is_a_504_before_any_200(
    door: FrontDoor, backend: str, http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    late = int(FIRST_TOKEN_S * 1000 * 3)
    response, _ = stream(http, door, backend, f"{tag} #mock ttft_ms={late}")
    check_error(response, door, 504, "timeout")
    check_row(gateway, response, door, backend, 504, "timeout")


def test_upstream_5xx_is_a_502(
    door: FrontDoor,
    backend: str,
    http: httpx.Client,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
) -> None:
    response, _ = stream(http, door, backend, f"{tag} #mock status=503")
    check_error(response, door, 502, "upstream")
    check_row(gateway, response, door, backend, 502, "upstream_error")
    assert len(mock.requests(tag)) == 1  # max_retries: 0


def test_upstream_429_passes_with_retry_after(
    door: FrontDoor, backend: str, http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, _ = stream(http, door, backend, f"{tag} #mock status=429 retry_after=1")
    check_error(response, door, 429, "rate_limit")
    assert "mock status 429" in response.text  # the upstream's own error, passed on
    assert response.headers["retry-after"] == "1"
    check_row(gateway, response, door, backend, 429, "upstream_error")


def test_client_disconnect_cancels_the_upstream(
    door: FrontDoor,
    backend: str,
    http: httpx.Client,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
) -> None:
    body = door.body(backend, f"{tag} #mock chunks=50 inter_ms=100", stream=True)
    with http.stream("POST", door.path, json=body) as response:
        assert response.status_code == 200
        next(line for line in response.iter_lines() if line.startswith("data: "))
    closed_at = time.time()
    record = wait_until(lambda: [r for r in mock.requests(tag) if r["outcome"]], timeout=5)[0]
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0 and record["chunks_sent"] < 50
    check_row(gateway, response, door, backend, 200, "client_disconnected")


def test_non_stream_answer(
    door: FrontDoor, backend: str, http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(door.path, json=door.body(backend, f"{tag} #mock chunks=2", False))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert door.reply_text(answer) == "w0 w1 "
    check_row(gateway, response, door, backend, 200, None, streamed=False)
