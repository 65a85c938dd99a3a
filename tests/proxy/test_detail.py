"""Detail logging's compact stream form (SPEC 6), folded from real OpenAI-shaped chunks."""

from __future__ import annotations

import json

import httpx

from sluicegate.providers.base import Chunk
from sluicegate.proxy.detail import MAX_BODY_CHARS, StreamCapture, capped, compact
from support import ALICE_KEY, SCRIBE_KEY, RunningGateway


def chunk(delta: dict[str, object], finish: str | None = None, index: int = 0) -> dict[str, object]:
    return {
        "id": "c1",
        "model": "m",
        "created": 7,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def test_compact_joins_content_reasoning_and_tool_arguments() -> None:
    chunks = [
        chunk({"role": "assistant", "content": "Hel", "reasoning": "th"}),
        chunk({"content": "lo", "reasoning": "ink"}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}},
    ]
    doc = compact(chunks, done=True)
    assert doc == {
        "format": "sluicegate.chat_stream.compact.v1",
        "id": "c1",
        "model": "m",
        "created": 7,
        "choices": [
            {
                "index": 0,
                "role": "assistant",
                "content": "Hello",
                "reasoning": "think",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5},
        "stream": {"done": True, "chunks": 7},
    }


def test_compact_of_a_broken_stream_says_not_done_and_has_no_finish_reason() -> None:
    doc = compact([chunk({"role": "assistant", "content": "par"})], done=False)
    assert doc["stream"] == {"done": False, "chunks": 1}
    assert doc["choices"][0]["finish_reason"] is None
    assert doc["choices"][0]["content"] == "par"


def test_compact_keeps_choices_apart_and_reads_legacy_text() -> None:
    legacy = [
        {"id": "x", "choices": [{"index": 0, "text": "a"}]},
        {"id": "x", "choices": [{"index": 1, "text": "b"}, {"index": 0, "text": "c"}]},
    ]
    doc = compact(legacy, done=True)
    assert [(c["index"], c["content"]) for c in doc["choices"]] == [(0, "ac"), (1, "b")]


def test_raw_capture_keeps_the_sse_text_sent() -> None:
    capture = StreamCapture("raw")
    capture.add([Chunk({"a": 1})], b'data: {"a":1}\n\n')
    capture.add_frame(b"data: [DONE]\n\n")
    assert capture.text(done=True) == 'data: {"a":1}\n\ndata: [DONE]\n\n'


def test_long_bodies_are_cut_with_a_marker() -> None:
    text = capped("x" * (MAX_BODY_CHARS + 10))
    assert text.startswith("x" * MAX_BODY_CHARS)
    assert text.endswith("[sluicegate: truncated, 10 more characters]")


# End to end: what a detail-logged user's Completion carries.


def post(gateway: RunningGateway, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )


def test_detail_logged_stream_is_stored_compact(gateway: RunningGateway, tag: str) -> None:
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": f"{tag} #mock chunks=2"}],
    }
    response = post(gateway, SCRIBE_KEY, body)
    record = gateway.completion(response.headers["x-request-id"])
    assert record.detail_logged
    assert json.loads(record.request_body or "") == body
    doc = json.loads(record.response_body or "")
    assert doc["format"] == "sluicegate.chat_stream.compact.v1"
    assert doc["choices"][0]["content"] == "w0 w1 "
    assert doc["choices"][0]["finish_reason"] == "stop"
    assert doc["stream"]["done"] is True
    assert doc["usage"]["completion_tokens"] == 2


def test_detail_logged_broken_stream_says_not_done(gateway: RunningGateway, tag: str) -> None:
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": f"{tag} #mock chunks=4 disconnect_after=1"}],
    }
    response = post(gateway, SCRIBE_KEY, body)
    doc = json.loads(gateway.completion(response.headers["x-request-id"]).response_body or "")
    assert doc["stream"]["done"] is False and doc["choices"][0]["content"] == "w0 "


def test_detail_logged_non_stream_and_error_bodies(gateway: RunningGateway, tag: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": tag}]}
    response = post(gateway, SCRIBE_KEY, body)
    record = gateway.completion(response.headers["x-request-id"])
    assert json.loads(record.response_body or "") == response.json()
    failed = post(gateway, SCRIBE_KEY, {"model": "nope", "messages": body["messages"]})
    record = gateway.completion(failed.headers["x-request-id"])
    assert json.loads(record.response_body or "")["error"]["code"] == "model_not_found"


def test_no_bodies_for_users_without_detail_logging(gateway: RunningGateway, tag: str) -> None:
    response = post(
        gateway, ALICE_KEY, {"model": "m", "messages": [{"role": "user", "content": tag}]}
    )
    record = gateway.completion(response.headers["x-request-id"])
    assert not record.detail_logged
    assert record.request_body is None and record.response_body is None
