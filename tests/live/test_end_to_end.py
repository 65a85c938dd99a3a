"""GET /admin/live/logs end to end: a gateway on a loopback port, requests through it, the
stream read with httpx; events checked against the request-log rows the same requests made."""

from __future__ import annotations

import httpx

from admin.harness import error_of
from support import ALICE_KEY, MASTER_KEY, UPSTREAM_KEY, RunningGateway, wait_until

from .conftest import chat
from .tail import Tail

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


def logged_row(gateway: RunningGateway, request_id: str) -> dict[str, object]:
    def row() -> dict[str, object] | None:
        response = httpx.get(f"{gateway.url}/admin/analytics/requests/{request_id}", headers=ADMIN)
        return response.json() if response.status_code == 200 else None

    found: dict[str, object] = wait_until(row)
    return found


def test_a_stream_starts_with_reset_and_its_cursor(live_gateway: RunningGateway) -> None:
    with Tail(live_gateway.url) as tail:
        first = tail.events[0]
        assert first.event == "reset"
        assert first.data == {"cursor": first.id, "reason": "start"}


def test_heartbeats_come_every_heartbeat_seconds(live_gateway: RunningGateway) -> None:
    with Tail(live_gateway.url) as tail:
        beats = wait_until(lambda: len(tail.of("heartbeat")) >= 2 and tail.of("heartbeat"))
        assert all(beat.data == {"cursor": beat.id} for beat in beats)


def test_events_of_a_plain_a_streamed_and_a_failed_request_match_their_log_rows(
    live_gateway: RunningGateway, user: httpx.Client, tag: str
) -> None:
    with Tail(live_gateway.url) as tail:
        plain = chat(user, f"plain {tag}")
        streamed = chat(user, f"streamed {tag}", stream=True)
        failed = chat(user, f"failed {tag} #mock status=500", model="noretry")
        assert (plain.status_code, streamed.status_code, failed.status_code) == (200, 200, 502)
        for response in (plain, streamed, failed):
            request_id = response.headers["x-request-id"]
            events = tail.wait_for(request_id)
            row = logged_row(live_gateway, request_id)
            audit = events["audit.created"]
            assert audit["id"] is None  # the row id is the database's, assigned later
            expected = {k: v for k, v in row.items() if k not in ("request_body", "response_body")}
            assert audit == {**expected, "id": None}
            usage_fields = ("request_id", "user_id", "model", "prompt_tokens")
            usage_fields += ("completion_tokens", "total_tokens", "cost_usd")
            assert events["usage.recorded"] == {k: row[k] for k in usage_fields}
        assert tail.for_request(streamed.headers["x-request-id"])["audit.created"]["stream"]
        failure = tail.for_request(failed.headers["x-request-id"])["audit.created"]
        assert (failure["status_code"], failure["error_type"]) == (502, "upstream_error")
        # Secrets never ride along: not the user's key, the master key, the upstream key.
        for secret in (ALICE_KEY, MASTER_KEY, UPSTREAM_KEY):
            assert secret not in tail.raw


def test_types_filter(live_gateway: RunningGateway, user: httpx.Client, tag: str) -> None:
    audit = Tail(live_gateway.url, types="audit")
    usage = Tail(live_gateway.url, types="usage")
    both = Tail(live_gateway.url, types="audit,usage")
    try:
        request_id = chat(user, tag).headers["x-request-id"]
        both.wait_for(request_id)
        wait_until(lambda: audit.for_request(request_id) and usage.for_request(request_id))
        # Let the filtered streams catch up with one more request before looking for strays.
        last = chat(user, tag + "-last").headers["x-request-id"]
        wait_until(lambda: audit.for_request(last) and usage.for_request(last))
        assert {e.event for e in audit.events} <= {"reset", "heartbeat", "audit.created"}
        assert {e.event for e in usage.events} <= {"reset", "heartbeat", "usage.recorded"}
        assert set(both.for_request(request_id)) == {"audit.created", "usage.recorded"}
    finally:
        for tail in (audit, usage, both):
            tail.close()


def test_resuming_with_a_cursor_gets_exactly_the_missed_events(
    live_gateway: RunningGateway, user: httpx.Client, tag: str
) -> None:
    with Tail(live_gateway.url) as tail:
        seen = chat(user, tag + "-seen").headers["x-request-id"]
        tail.wait_for(seen)
        cursor = tail.of("usage.recorded")[-1].id
    missed = [chat(user, f"{tag}-missed-{i}").headers["x-request-id"] for i in range(3)]
    with Tail(live_gateway.url, cursor=cursor) as resumed:
        wait_until(lambda: len(resumed.of("audit.created", "usage.recorded")) >= 6)
        events = resumed.of("audit.created", "usage.recorded", "reset")
        assert [(e.event, e.data["request_id"]) for e in events[:6]] == [
            (name, request_id)
            for request_id in missed
            for name in ("audit.created", "usage.recorded")
        ]
        assert resumed.events[0].event != "reset"


def test_last_event_id_resumes_like_a_cursor(
    live_gateway: RunningGateway, user: httpx.Client, tag: str
) -> None:
    with Tail(live_gateway.url) as tail:
        cursor = tail.events[0].id
    request_id = chat(user, tag).headers["x-request-id"]
    with Tail(live_gateway.url, headers={"last-event-id": cursor}) as resumed:
        assert resumed.events[0].event == "audit.created"
        assert resumed.events[0].data["request_id"] == request_id


def test_a_cursor_older_than_the_buffer_resets(
    live_gateway: RunningGateway, user: httpx.Client, tag: str
) -> None:
    with Tail(live_gateway.url) as tail:
        old = tail.events[0].id
    capacity = live_gateway.app.live.capacity
    for i in range(capacity // 2 + 1):  # two events per request
        assert chat(user, f"{tag}-{i}").status_code == 200
    with Tail(live_gateway.url, cursor=old) as resumed:
        first = resumed.events[0]
        assert (first.event, first.data["reason"]) == ("reset", "cursor_expired")
        assert first.id == first.data["cursor"] != old
    # A cursor from another gateway process (or an earlier run) is gone as well.
    with Tail(live_gateway.url, cursor="00000000-1") as other:
        assert other.events[0].event == "reset"


def test_malformed_or_unknown_cursor_and_unknown_types_are_400(
    live_gateway: RunningGateway,
) -> None:
    epoch = live_gateway.app.live.epoch
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": f"{epoch}-999999999"},  # never issued
        {"cursor": "x" * 65},
        {"types": "audit,bogus"},
    ):
        response = httpx.get(live_gateway.url + "/admin/live/logs", params=params, headers=ADMIN)
        assert response.status_code == 400, params
        error = error_of(response)
        assert error["type"] == "invalid_request_error", error
        assert error["param"] in ("cursor", "types"), error


def test_no_master_key_is_401(live_gateway: RunningGateway) -> None:
    url = live_gateway.url + "/admin/live/logs"
    for headers in ({}, {"authorization": f"Bearer {ALICE_KEY}"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_api_key"
