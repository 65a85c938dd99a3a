"""`on: output` guardrails over real sockets: a whole answer is blocked (the 400) or masked;
a stream is scanned by the window, so a match split across chunks ends it with the SPEC 4
error event (never `[DONE]`), in each front door's own error shape, and the SDKs raise."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from support import ALICE_KEY, SCRIBE_KEY, RunningGateway, wait_until

from .harness import error_of, logged_row, sse_data

SPLIT = "say the forbidden phrase now"  # the demo echoes it word by word: a split match


def chat(text: str, model: str = "echo", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", lambda t: chat(t)),
        ("/v1/completions", lambda t: {"model": "echo", "prompt": t}),
        ("/v1/messages", lambda t: {"max_tokens": 50, **chat(t)}),
        ("/v1/responses", lambda t: {"model": "echo", "input": t}),
    ],
)
def test_a_whole_answer_is_blocked_or_masked_on_every_door(
    http: httpx.Client, gateway: RunningGateway, path: str, body: Any
) -> None:
    blocked = http.post(path, json=body(SPLIT))
    assert blocked.status_code == 400
    assert "forbidden" not in blocked.text
    row = gateway.completion(blocked.headers["x-request-id"])
    assert (row.error_type, row.guardrails) == ("content_filter", ("out-block",))
    assert len(row.attempts) == 1  # the upstream answered; its answer was refused
    masked = http.post(path, json=body("write to bob@example.com today"))
    assert masked.status_code == 200
    assert "[EMAIL]" in masked.text and "bob@example.com" not in masked.text
    assert gateway.completion(masked.headers["x-request-id"]).guardrails == ("out-pii",)


def test_an_answer_with_nothing_to_act_on_passes_untouched(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    response = http.post("/v1/chat/completions", json=chat("just fine words"))
    assert response.json()["choices"][0]["message"]["content"] == "just fine words"
    assert gateway.completion(response.headers["x-request-id"]).guardrails == ()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_a_match_split_across_chunks_ends_the_stream_with_the_error_event(
    http: httpx.Client, gateway: RunningGateway, path: str
) -> None:
    body = chat(SPLIT, stream=True) if "chat" in path else {"model": "echo", "prompt": SPLIT}
    with http.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        events = sse_data(response)
    assert "[DONE]" not in events
    last = events[-1]
    assert last == {
        "error": {
            "message": "The content was blocked by the guardrail 'out-block'.",
            "type": "invalid_request_error",
            "code": "content_filter",
        }
    }
    texts = [
        c["choices"][0].get("delta", {}).get("content") or c["choices"][0].get("text") or ""
        for c in events[:-1]
    ]
    # "phrase" completed the match: that chunk was never sent; the ones before it were.
    assert "".join(texts) == "say the forbidden"
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (200, "content_filter")
    assert row.guardrails == ("out-block",)


def test_a_match_in_the_first_event_is_a_plain_400(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    # The demo's first chunk is the first word: the match is seen before the 200 is committed.
    response = http.post("/v1/chat/completions", json=chat("bob@example.com hi", stream=True))
    assert error_of(response) == (400, "invalid_request_error", "content_filter")
    assert gateway.completion(response.headers["x-request-id"]).guardrails == ("out-pii",)


def test_a_masking_guardrail_blocks_a_stream(http: httpx.Client, gateway: RunningGateway) -> None:
    with http.stream(
        "POST", "/v1/chat/completions", json=chat("write to bob@example.com", stream=True)
    ) as response:
        events = sse_data(response)
    assert events[-1]["error"]["code"] == "content_filter"
    assert "bob@example.com" not in json.dumps(events)
    row = gateway.completion(response.headers["x-request-id"])
    assert row.guardrails == ("out-pii",)


def test_the_openai_sdk_raises_on_a_blocked_stream(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(**chat(SPLIT, stream=True)):
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)
    assert "out-block" in caught.value.message
    assert "".join(seen) == "say the forbidden"
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(**chat(SPLIT))
    assert refused.value.code == "content_filter"


def test_a_blocked_responses_stream_ends_with_response_failed(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)
    events = list(client.responses.create(model="echo", input=SPLIT, stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.message.startswith("content_filter")
    assert not any(e.type == "response.completed" for e in events)


def test_the_anthropic_sdk_raises_on_a_blocked_stream(gateway: RunningGateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=ALICE_KEY, max_retries=0)
    stream = client.messages.stream(**chat(SPLIT), max_tokens=50)
    with pytest.raises(anthropic.APIStatusError) as caught, stream as events:
        for _ in events:
            pass
    assert "out-block" in str(caught.value)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(**chat(SPLIT), max_tokens=50)


@pytest.mark.parametrize(
    ("path", "model", "extra"),
    [
        ("/v1/chat/completions", "m-words", {}),
        ("/v1/messages", "claude-words", {"max_tokens": 50}),
        ("/v1/responses", "native-words", {}),
    ],
)
def test_native_upstream_streams_are_scanned_in_their_own_shape(
    http: httpx.Client, gateway: RunningGateway, path: str, model: str, extra: dict[str, Any]
) -> None:
    # The mock streams "w0 ", "w1 ", "w2 ": `mock-words` ("w1 w2") matches across two events
    # (spaced out, so the first read holds only the first: a match there would be a 400).
    text = "hello #mock chunks=3 inter_ms=30"
    body = {"model": model, **extra, "stream": True}
    body |= {"input": text} if path == "/v1/responses" else chat(text, model)
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    assert "w2" not in raw and "[DONE]" not in raw
    assert "blocked by the guardrail 'mock-words'" in raw  # each door's own error event
    assert "message_stop" not in raw and "response.completed" not in raw
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.error_type, row.guardrails) == ("content_filter", ("mock-words",))
    short = http.post(path, json={**body, "stream": False} | _one_chunk(path, model))
    assert short.status_code == 200  # "w0 " alone matches nothing


def _one_chunk(path: str, model: str) -> dict[str, Any]:
    text = "hello #mock chunks=1"
    return {"input": text} if path == "/v1/responses" else chat(text, model)


def test_a_masked_answer_never_reaches_the_request_log(gateway: RunningGateway) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=chat("write to bob@example.com today"),
        headers={"authorization": f"Bearer {SCRIBE_KEY}"},
    )
    assert response.status_code == 200
    row = logged_row(gateway.url, response.headers["x-request-id"])
    assert row["guardrails"] == ["out-pii"]
    content = json.loads(row["response_body"])["choices"][0]["message"]["content"]
    assert content == "write to [EMAIL] today"
    # The request carried it (no input guardrail on `echo`); only the answer was masked.
    assert "bob@example.com" in row["request_body"]


def test_actions_are_counted_in_metrics(http: httpx.Client) -> None:
    def count(action: str, name: str) -> float:
        text = http.get("/metrics").text
        for line in text.splitlines():
            if line.startswith(
                f'sluicegate_guardrail_actions_total{{action="{action}",guardrail="{name}"}}'
            ):
                return float(line.split()[-1])
        return 0.0

    before = count("mask", "out-pii"), count("block", "out-block")
    http.post("/v1/chat/completions", json=chat("to bob@example.com"))
    http.post("/v1/chat/completions", json=chat(SPLIT))
    after = before[0] + 1, before[1] + 1
    wait_until(lambda: (count("mask", "out-pii"), count("block", "out-block")) == after)
