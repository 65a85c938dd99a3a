"""SPEC 4.9 on /v1/responses served by `responses: native` backends: the Responses API has no
prefill, so a stream forwarded in its own events is continued through chat (the request
translated, the text so far as the last assistant message) and translated on: the same
response id, item id and numbering, one response.completed with the whole text."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from support import MockUpstream, RunningGateway

from .helpers import outcome, responses_stream, tries, words


def raw_events(http: httpx.Client, text: str) -> tuple[str, list[dict[str, Any]]]:
    body = {"model": "native-first", "input": text, "stream": True}
    with http.stream("POST", "/v1/responses", json=body) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    data = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
    return response.headers["x-request-id"], [json.loads(d) for d in data]


def test_native_stream_is_continued_through_chat(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=2 fault_model=resp-a"
    events, record = responses_stream(client, gateway, "native-first", text)
    types = [e.type for e in events]
    assert types.count("response.created") == 1 and types[-1] == "response.completed"
    assert "response.failed" not in types and types.count("response.output_item.added") == 1
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert "".join(e.delta for e in deltas) == words(0, 6)
    assert {(e.item_id, e.output_index, e.content_index) for e in deltas} == {("msg_mock", 0, 0)}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.id == events[0].response.id and final.output_text == words(0, 6)
    assert [item.id for item in final.output] == ["msg_mock"]
    # The client's usage is the sum over the tries, as the log row.
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        record.usage.prompt_tokens,
        record.usage.completion_tokens,
    )
    broken, continuation = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (broken["path"], broken["model"]) == ("/v1/responses", "resp-a")
    assert (continuation["path"], continuation["model"]) == ("/v1/chat/completions", "resp-b")
    assert continuation["body"]["messages"][0] == {"role": "user", "content": text}
    assert continuation["body"]["messages"][-1] == {"role": "assistant", "content": words(0, 2)}
    assert (record.error_type, record.resumed) == (None, True)
    assert tries(record) == [("native", "upstream_disconnected"), ("native2", None)]


def test_when_the_continuation_breaks_too_one_response_failed_goes_on_numbering(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=9 disconnect_after=2 fault_model=resp-a,resp-b"
    request_id, events = raw_events(http, text)
    types = [e["type"] for e in events]
    assert types.count("response.failed") == 1 and types[-1] == "response.failed"
    assert "response.completed" not in types
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == words(0, 4)  # 2 words natively, 2 through chat: 1 resume
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    failed = events[-1]["response"]
    assert failed["id"] == events[0]["response"]["id"] and failed["status"] == "failed"
    assert outcome(gateway.completion(request_id)) == ("upstream_disconnected", True, 2)


def test_a_function_call_in_flight_is_not_resumed(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    text = f"{tag} #mock tools=1 disconnect_after=2 fault_model=resp-a"
    request_id, events = raw_events(http, text)
    types = [e["type"] for e in events]
    assert types.count("response.failed") == 1 and types[-1] == "response.failed"
    assert len(mock.requests(tag)) == 1
    assert outcome(gateway.completion(request_id)) == ("upstream_disconnected", False, 1)
