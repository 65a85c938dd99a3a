"""POST /v1/messages and /v1/messages/count_tokens with the official `anthropic` SDK: passed
through to anthropic backends, translated for openai and demo ones; Anthropic's envelope for
errors, `message_stop` or one `event: error` at the end of a stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

import anthropic_gateway
from support import ALICE_KEY, SCRIBE_KEY, MockUpstream, RunningGateway, wait_until


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = anthropic_gateway.start(mock.url, Path(tmp_path_factory.mktemp("messages")))
    yield running
    running.stop()


@pytest.fixture
def sdk(gw: RunningGateway) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=gw.url, api_key=ALICE_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def http(gw: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"x-api-key": ALICE_KEY, "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=30) as client:
        yield client


def ask(model: str, text: str, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": model, "max_tokens": 100, "messages": messages, **extra}


def sse(raw: str) -> list[tuple[str, str]]:
    """(event name, data) of each SSE block; comments as ("comment", text)."""
    out = []
    for block in raw.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append(("comment", block))
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines.get("event", ""), lines["data"]))
    return out


def stream_raw(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, str]:
    with http.stream("POST", "/v1/messages", json={**body, "stream": True}) as response:
        return response, response.read().decode()


# Pass-through to anthropic backends


def test_pass_through_message(
    sdk: anthropic.Anthropic, gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    raw = sdk.messages.with_raw_response.create(
        **ask("claude", f"{tag} #mock chunks=2", extra_body={"top_k": 3})
    )
    message = raw.parse()
    assert message.content[0].text == "w0 w1 "  # type: ignore[union-attr]
    assert message.id.startswith("msg_mock")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 2)
    record = mock.request(tag)
    assert record["path"] == "/v1/messages"
    assert record["body"]["model"] == "claude-x" and record["body"]["top_k"] == 3
    row = gw.completion(raw.headers["x-request-id"])
    assert (row.path, row.backend, row.resolved_model, row.model) == (
        "/v1/messages",
        "claude",
        "claude-x",
        "claude",
    )
    assert (row.usage.prompt_tokens, row.usage.completion_tokens) == (3, 2)
    assert row.cost_usd == pytest.approx((3 + 2 * 2) / 1_000_000)


def test_pass_through_stream(
    sdk: anthropic.Anthropic, http: httpx.Client, gw: RunningGateway, tag: str
) -> None:
    with sdk.messages.stream(**ask("claude", f"{tag} #mock chunks=3 reasoning=1")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "w0 w1 w2 "
    assert final.content[0].type == "thinking" and final.stop_reason == "end_turn"
    response, raw = stream_raw(http, ask("claude", f"{tag}b #mock chunks=2"))
    assert response.headers["content-type"] == "text/event-stream"
    events = sse(raw)
    assert events[-1][0] == "message_stop"
    assert "[DONE]" not in raw and "ping" not in [name for name, _ in events]
    row = gw.completion(response.headers["x-request-id"])
    assert (row.stream, row.usage.prompt_tokens, row.usage.completion_tokens) == (True, 3, 2)


def test_pass_through_tools(sdk: anthropic.Anthropic, tag: str) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    with sdk.messages.stream(
        **ask("claude", f"{tag} #mock tools=1 tool_calls=2", tools=[tool])
    ) as s:
        final = s.get_final_message()
    assert [b.input for b in final.content] == [{"city": "Paris"}] * 2  # type: ignore[union-attr]


# Translated for openai and demo backends


def test_translated_message(
    sdk: anthropic.Anthropic, mock: MockUpstream, gw: RunningGateway, tag: str
) -> None:
    raw = sdk.messages.with_raw_response.create(
        **ask("gpt", f"{tag} #mock chunks=2", system="be brief", stop_sequences=["X"])
    )
    message = raw.parse()
    assert message.content[0].text == "w0 w1 "  # type: ignore[union-attr]
    assert (message.stop_reason, message.role, message.type) == ("end_turn", "assistant", "message")
    assert message.usage.output_tokens == 2
    body = mock.request(tag)["body"]
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert (body["max_tokens"], body["stop"], body["model"]) == (100, ["X"], "mock-model")
    row = gw.completion(raw.headers["x-request-id"])
    assert (row.path, row.backend, row.usage.completion_tokens) == ("/v1/messages", "mock", 2)


def test_translated_stream(sdk: anthropic.Anthropic, http: httpx.Client, tag: str) -> None:
    with sdk.messages.stream(**ask("gpt", f"{tag} #mock chunks=3 reasoning=1")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "w0 w1 w2 "
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3
    _, raw = stream_raw(http, ask("gpt", f"{tag}b #mock chunks=1"))
    names = [name for name, _ in sse(raw)]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_translated_tools_round_trip(
    sdk: anthropic.Anthropic, mock: MockUpstream, tag: str
) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    with sdk.messages.stream(**ask("gpt", f"{tag}a #mock tools=1", tools=[tool])) as stream:
        final = stream.get_final_message()
    block = final.content[0]
    assert (block.type, block.name, block.input) == ("tool_use", "get_weather", {"city": "Paris"})  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    messages: list[Any] = [
        {"role": "user", "content": f"{tag}a"},
        {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": block.id, "content": f"sunny {tag}b"}
            ],
        },  # type: ignore[union-attr]
    ]
    sdk.messages.create(model="gpt", max_tokens=50, messages=messages, tools=[tool])  # type: ignore[list-item]
    sent = mock.requests(f"{tag}a")[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_mock", "content": f"sunny {tag}b"}


def test_demo_backend(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**ask("demo-echo", "hello there"))
    assert message.content[0].text == "hello there"  # type: ignore[union-attr]
    with sdk.messages.stream(**ask("demo-echo", "one two three")) as stream:
        assert "".join(stream.text_stream) == "one two three"


def test_fallback_from_anthropic_to_openai(
    http: httpx.Client, gw: RunningGateway, tag: str
) -> None:
    response = http.post(
        "/v1/messages", json=ask("claude-then-gpt", f"{tag} #mock status=529 fail_times=1 id={tag}")
    )
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "w0 w1 w2 "
    row = gw.completion(response.headers["x-request-id"])
    assert [(a.backend, a.status_code) for a in row.attempts] == [("claude-fb", 529), ("mock", 200)]


# Errors in Anthropic's envelope


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return response.status_code, body["error"]["type"]


def test_validation_like_anthropic(http: httpx.Client) -> None:
    body = ask("claude", "x")
    del body["max_tokens"]
    response = http.post("/v1/messages", json=body)
    assert error_of(response) == (400, "invalid_request_error")
    assert response.json()["error"]["message"] == "max_tokens: Field required"
    assert error_of(http.post("/v1/messages", content=b"{nope")) == (400, "invalid_request_error")
    assert error_of(http.post("/v1/messages", json=ask("no-such-model", "x"))) == (
        404,
        "not_found_error",
    )
    assert error_of(http.get("/v1/messages")) == (405, "invalid_request_error")


def test_auth_by_x_api_key_and_authorization_wins(gw: RunningGateway) -> None:
    url = gw.url + "/v1/messages"
    response = httpx.post(url, json=ask("demo-echo", "hi"), headers={"x-api-key": ALICE_KEY})
    assert response.status_code == 200
    both = {"x-api-key": ALICE_KEY, "authorization": "Bearer wrong"}
    assert error_of(httpx.post(url, json=ask("demo-echo", "hi"), headers=both)) == (
        401,
        "authentication_error",
    )
    assert error_of(httpx.post(url, json=ask("demo-echo", "hi"))) == (401, "authentication_error")


def test_sdk_sees_upstream_errors_as_anthropic_errors(sdk: anthropic.Anthropic, tag: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        sdk.messages.create(**ask("claude", f"{tag} #mock status=400"))
    assert bad.value.body["error"]["message"] == "mock status 400"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        sdk.messages.create(**ask("claude-noretry", f"{tag}b #mock status=529"))
    assert overloaded.value.status_code == 502
    assert overloaded.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_rate_limit_passes_with_retry_after(http: httpx.Client, tag: str) -> None:
    response = http.post("/v1/messages", json=ask("gpt", f"{tag} #mock status=429 retry_after=3"))
    assert error_of(response) == (429, "rate_limit_error")
    assert response.headers["retry-after"] == "3"


def test_first_token_timeout_is_504_timeout_error(http: httpx.Client, tag: str) -> None:
    response = http.post(
        "/v1/messages", json=ask("claude-tight", f"{tag} #mock ttft_ms=3000", stream=True)
    )
    assert error_of(response) == (504, "timeout_error")


# SPEC 4 faults: a broken stream ends with one `event: error`, never message_stop


@pytest.mark.parametrize("model", ["claude", "gpt"])
@pytest.mark.parametrize("fault", ["disconnect_after=2", "error_event_after=2"])
def test_mid_stream_failure_is_an_error_event(
    http: httpx.Client, gw: RunningGateway, tag: str, model: str, fault: str
) -> None:
    response, raw = stream_raw(http, ask(model, f"{tag} #mock chunks=5 {fault}"))
    assert response.status_code == 200
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[-1] == "error" and names.count("error") == 1
    assert "message_stop" not in names and "message_delta" not in names
    assert json.loads(events[-1][1])["error"]["type"] == "api_error"
    texts = [json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert texts == ["w0 ", "w1 "]
    row = gw.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (200, "upstream_disconnected")


def test_mid_stream_failure_makes_the_sdk_raise(sdk: anthropic.Anthropic, tag: str) -> None:
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError),
        sdk.messages.stream(**ask("gpt", f"{tag} #mock chunks=5 disconnect_after=2")) as stream,
    ):
        seen.extend(stream.text_stream)
    assert seen == ["w0 ", "w1 "]


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_empty_upstream_stream_is_an_empty_200(http: httpx.Client, tag: str, model: str) -> None:
    response, raw = stream_raw(http, ask(model, f"{tag} #mock empty=1"))
    assert response.status_code == 200 and raw == ""


def test_keepalive_comments_on_silence(http: httpx.Client, tag: str) -> None:
    _, raw = stream_raw(http, ask("claude", f"{tag} #mock chunks=2 inter_ms=1200"))
    names = [name for name, _ in sse(raw)]
    assert "comment" in names and names[-1] == "message_stop"


def test_client_disconnect_cancels_the_upstream(
    gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = ask("claude", f"{tag} #mock chunks=50 inter_ms=200", stream=True)
    with httpx.Client(base_url=gw.url, timeout=10, headers={"x-api-key": ALICE_KEY}) as client:
        with client.stream("POST", "/v1/messages", json=body) as response:
            request_id = response.headers["x-request-id"]
            next(line for line in response.iter_lines() if line.startswith("data: "))
        closed_at = time.time()
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0
    row = gw.completion(request_id)
    assert (row.path, row.error_type) == ("/v1/messages", "client_disconnected")


# count_tokens


def test_count_tokens_passed_through_or_estimated(
    sdk: anthropic.Anthropic, mock: MockUpstream, tag: str
) -> None:
    counted = sdk.messages.count_tokens(
        model="claude", messages=[{"role": "user", "content": f"{tag} a b"}]
    )
    assert counted.input_tokens == 3
    assert mock.request(tag)["path"] == "/v1/messages/count_tokens"
    estimated = sdk.messages.count_tokens(
        model="gpt", messages=[{"role": "user", "content": "a b"}]
    )
    assert estimated.input_tokens > 0
    assert estimated.model_dump().get("estimated") is True


# Detail logging: the compact Messages stream document


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_compact_stream_log(gw: RunningGateway, tag: str, model: str) -> None:
    headers = {"x-api-key": SCRIBE_KEY}
    body = ask(model, f"{tag} #mock chunks=2", stream=True)
    with httpx.Client(base_url=gw.url, headers=headers, timeout=10) as client:
        response = client.post("/v1/messages", json=body)
    row = gw.completion(response.headers["x-request-id"])
    doc = json.loads(row.response_body or "")
    assert doc["format"] == "sluicegate.messages_stream.compact.v1"
    assert doc["content"] == [{"type": "text", "text": "w0 w1 "}]
    assert doc["stop_reason"] == "end_turn" and doc["stream"]["done"] is True
    assert doc["usage"]["output_tokens"] == 2
    assert json.loads(row.request_body or "")["model"] == model
