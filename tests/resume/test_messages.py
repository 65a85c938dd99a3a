"""SPEC 4.9 on /v1/messages served by anthropic backends: Anthropic's own events, forwarded
untranslated, are continued on the next anthropic target in the same client stream (one
message_start, the text block that was open goes on, one message_delta and message_stop)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from support import MockUpstream, RunningGateway

from .helpers import claude_stream, logged, outcome, tries, words


def body(text: str, model: str = "claude-resumable") -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": text}],
    }


def events(http: httpx.Client, request: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    """The request id and the (event name, data) pairs of one stream, in order."""
    with http.stream("POST", "/v1/messages", json=request) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    out = []
    for block in raw.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].startswith("event: "):
            out.append((lines[0][7:], json.loads(lines[1].removeprefix("data: "))))
    return response.headers["x-request-id"], out


def text_of(seen: list[tuple[str, Any]]) -> str:
    return "".join(
        data["delta"].get("text", "") for name, data in seen if name == "content_block_delta"
    )


def assert_one_message(seen: list[tuple[str, Any]], expected: str) -> None:
    """One message_start, one text block (index 0) from start to stop, the whole text once,
    one message_delta, message_stop last, no error."""
    names = [name for name, _ in seen]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("message_start") == names.count("message_stop") == 1
    assert names.count("message_delta") == 1 and "error" not in names
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
    assert names.index("content_block_start") < names.index("content_block_stop")
    assert {data["index"] for name, data in seen if name.startswith("content_block")} == {0}
    deltas = [data["delta"] for name, data in seen if name == "content_block_delta"]
    assert all(d["type"] == "text_delta" and d["text"] for d in deltas)
    assert text_of(seen) == expected


def continued(http: httpx.Client, text: str, expected: str) -> str:
    """Stream `text` on claude-resumable, check it reads as one message; the request id."""
    request_id, seen = events(http, body(text))
    assert_one_message(seen, expected)
    return request_id


@pytest.mark.parametrize(
    "fault",
    [
        "disconnect_after=1",  # at the first event
        "disconnect_after=4",  # in the middle
        "disconnect_after=8",  # after the last word, before the block's stop
        "error_event_after=3",  # an overloaded_error event
    ],
)
def test_broken_stream_is_continued_on_the_next_anthropic_target(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, fault: str
) -> None:
    request_id = continued(http, f"{tag} #mock chunks=8 {fault} fault_model=claude-x", words(0, 8))
    sent = int(fault.rpartition("=")[2])
    first, second = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (first["model"], second["model"]) == ("claude-x", "claude-y")
    assert second["path"] == "/v1/messages"
    # Anthropic prefill: the original messages, then the text so far without its trailing
    # space (the API refuses one); the mock's " w3 ..." loses the space the client has.
    messages = second["body"]["messages"]
    assert messages[:-1] == first["body"]["messages"]
    assert messages[-1] == {"role": "assistant", "content": words(0, sent).rstrip()}
    record = gateway.completion(request_id)
    assert (record.status_code, record.error_type, record.resumed) == (200, None, True)
    assert [(a.backend, a.status_code, a.error_type) for a in record.attempts] == [
        ("claude", 200, "upstream_disconnected"),
        ("claude2", 200, None),
    ]


@pytest.mark.parametrize(
    ("model", "first", "prefill"),
    [
        ("claude-resumable", "claude-x", words(0, 3).rstrip()),  # Anthropic's own events
        ("resumable", "rep-a", words(0, 3)),  # chat targets, translated (chat's own form)
    ],
)
def test_anthropic_sdk_accumulates_one_message(
    gateway: RunningGateway, mock: MockUpstream, tag: str, model: str, first: str, prefill: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=3 fault_model={first}"
    streamed, message, record = claude_stream(gateway, model, text)
    assert streamed == words(0, 6)
    assert message.stop_reason == "end_turn"
    assert [(block.type, getattr(block, "text", None)) for block in message.content] == [
        ("text", words(0, 6))
    ]
    assert message.usage.output_tokens == record.usage.completion_tokens == 3 + 3
    broken, continuation = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert broken["model"] == first
    assert continuation["body"]["messages"][-1] == {"role": "assistant", "content": prefill}


def test_client_usage_is_summed_over_the_tries(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=2 fault_model=claude-x"
    request_id, seen = events(http, body(text))
    assert_one_message(seen, words(0, 6))
    usage = next(data["usage"] for name, data in seen if name == "message_delta")
    record = gateway.completion(request_id)
    prompt = (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    assert (prompt, usage["output_tokens"]) == (
        record.usage.prompt_tokens,
        record.usage.completion_tokens,
    )
    # The continuation's prompt: the message's words plus the 2 words of the prefill; the
    # broken try reported its input in message_start (its output is estimated: 2 chunks).
    words_in = len(text.split())
    assert record.usage.prompt_tokens == words_in + (words_in + 2)
    assert record.usage.completion_tokens == 2 + 4
    cost = (words_in * 1.0 + 2 * 2.0 + (words_in + 2) * 10.0 + 4 * 20.0) / 1e6
    assert record.cost_usd == pytest.approx(cost)


def test_an_echoed_prefix_is_trimmed(http: httpx.Client, mock: MockUpstream, tag: str) -> None:
    continued(
        http, f"{tag} #mock chunks=7 disconnect_after=3 fault_model=claude-x echo=1", words(0, 7)
    )
    continuation = max(mock.requests(tag), key=lambda r: r["seq"])
    assert continuation["chunks_sent"] == 2 + 4  # the echo in two pieces, then w3..w6


def test_a_continuation_that_breaks_goes_on_to_the_next_target(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=8 disconnect_after=3 fault_model=claude-x,claude-y"
    request_id = continued(http, text, words(0, 8))
    assert tries(gateway.completion(request_id)) == [
        ("claude", "upstream_disconnected"),
        ("claude2", "upstream_disconnected"),
        ("claude3", None),
    ]


def test_when_every_try_breaks_the_client_gets_one_error_event(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    text = f"{tag} #mock chunks=12 disconnect_after=3 fault_model=claude-x,claude-y,claude-z"
    request_id, seen = events(http, body(text))
    names = [name for name, _ in seen]
    assert text_of(seen) == words(0, 9)  # 3 tries of 3 words: 2 resumes allowed
    assert names.count("error") == 1 and names[-1] == "error"
    assert "message_stop" not in names and "message_delta" not in names
    assert names.count("message_start") == names.count("content_block_start") == 1
    assert len(mock.requests(tag)) == 3
    assert outcome(gateway.completion(request_id)) == ("upstream_disconnected", True, 3)


@pytest.mark.parametrize(
    ("model", "directive"),
    [
        ("claude-resumable", "tools=1 disconnect_after=2"),  # a tool_use block in flight
        ("claude-resumable", "reasoning=1 disconnect_after=2"),  # a thinking block in flight
        ("claude-first", "disconnect_after=2"),  # the fallback answers in chat: another wire
    ],
)
def test_not_resumed_then_spec_4_4_applies(
    http: httpx.Client,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
    model: str,
    directive: str,
) -> None:
    text = f"{tag} #mock chunks=5 {directive} fault_model=claude-x"
    request_id, seen = events(http, body(text, model))
    names = [name for name, _ in seen]
    assert names.count("error") == 1 and names[-1] == "error"
    assert seen[-1][1]["error"]["type"] == "api_error"
    assert "message_stop" not in names
    assert len(mock.requests(tag)) == 1
    assert outcome(gateway.completion(request_id)) == ("upstream_disconnected", False, 1)


@pytest.mark.parametrize(
    ("model", "directive", "relayed"),
    [
        ("claude-m", "chunks=8 disconnect_after=5", 5),  # resume off
        ("claude-m", "chunks=8 error_event_after=4", 4),
        # a tool_use block open: 2 calls, each a block start and 3 deltas; cut in the second
        ("claude-resumable", "tools=1 tool_calls=2 disconnect_after=6", 4),
        ("claude-first", "chunks=8 disconnect_after=3", 3),  # no target answers this wire
    ],
)
def test_a_broken_stream_not_resumed_logs_the_output_it_relayed(
    http: httpx.Client, gateway: RunningGateway, tag: str, model: str, directive: str, relayed: int
) -> None:
    """Not message_start's placeholder output count (the mock's 1, like Anthropic's): with no
    message_delta, one token per content delta sent, as a broken chat stream is counted by its
    chunks; the input message_start reported is kept."""
    text = f"{tag} #mock {directive} fault_model=claude-x"
    request_id, seen = events(http, body(text, model))
    names = [name for name, _ in seen]
    assert names[-1] == "error" and "message_delta" not in names
    assert names.count("content_block_delta") == relayed
    row = logged(gateway, request_id)
    assert (row["resumed"], row["error_type"]) == (False, "upstream_disconnected")
    prompt = len(text.split())
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        prompt,
        relayed,
        prompt + relayed,
    )
    assert row["usage_estimated"] is True
    assert gateway.completion(request_id).usage.completion_tokens == relayed
