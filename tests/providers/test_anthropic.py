"""The `anthropic` backend end to end: the openai SDK → the gateway → the mock's Messages API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import anthropic_gateway
from support import ALICE_KEY, UPSTREAM_KEY, MockUpstream, RunningGateway, wait_until

PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg"
)


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = anthropic_gateway.start(mock.url, Path(tmp_path_factory.mktemp("anthropic")))
    yield running
    running.stop()


@pytest.fixture
def sdk(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=ALICE_KEY, max_retries=0)


@pytest.fixture
def http(gw: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=30) as client:
        yield client


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def sse(raw: str) -> list[str]:
    return [b[len("data: ") :] for b in raw.split("\n\n") if b.startswith("data: ")]


def stream_raw(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, str]:
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        return response, response.read().decode()


# Requests go out as Anthropic wants them


def test_text_answer_and_upstream_request(
    sdk: openai.OpenAI, mock: MockUpstream, gw: RunningGateway, tag: str
) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="claude",
        messages=[{"role": "system", "content": "be brief"}, *user(f"{tag} #mock chunks=3")],
        temperature=0.5,
        top_p=0.9,
        stop=["END"],
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == "w0 w1 w2 "
    assert reply.choices[0].finish_reason == "stop"
    assert reply.id.startswith("msg_")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5, 3)
    record = mock.request(tag)
    assert record["path"] == "/v1/messages"
    assert record["headers"]["x-api-key"] == UPSTREAM_KEY
    assert record["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in record["headers"]
    body = record["body"]
    assert body == {
        "model": "claude-x",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": f"{tag} #mock chunks=3"}]}
        ],
        "system": "be brief",
        "max_tokens": 4096,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
    }
    row = gw.completion(raw.headers["x-request-id"])
    assert (row.backend, row.resolved_model, row.model, row.path) == (
        "claude",
        "claude-x",
        "claude",
        "/v1/chat/completions",
    )
    assert (row.usage.prompt_tokens, row.usage.completion_tokens, row.usage.estimated) == (
        5,
        3,
        False,
    )
    assert row.cost_usd == pytest.approx((5 * 1.0 + 3 * 2.0) / 1_000_000)


def test_system_blocks_multi_turn_and_max_completion_tokens(
    sdk: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    sdk.chat.completions.create(
        model="claude",
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "rule one"}]},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": f"{tag} #mock chunks=1"},
        ],
        max_completion_tokens=50,
    )
    body = mock.request(tag)["body"]
    assert body["system"] == [{"type": "text", "text": "rule one"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 50


def test_max_tokens_cut_is_finish_reason_length(sdk: openai.OpenAI, tag: str) -> None:
    reply = sdk.chat.completions.create(
        model="claude", messages=user(f"{tag} #mock chunks=5"), max_tokens=2
    )
    assert reply.choices[0].message.content == "w0 w1 "
    assert reply.choices[0].finish_reason == "length"


def test_images_base64_and_url(sdk: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    content = [
        {"type": "text", "text": f"{tag} what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": content}])
    blocks = mock.request(tag)["body"]["messages"][0]["content"]
    assert blocks[1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    ]


# Tools


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_parallel_tool_calls_non_stream(sdk: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    reply = sdk.chat.completions.create(
        model="claude",
        messages=user(f"{tag} #mock tools=1 tool_calls=2"),
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("toolu_mock0", "get_weather", {"city": "Paris"}),
        ("toolu_mock1", "get_weather", {"city": "Paris"}),
    ]
    body = mock.request(tag)["body"]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
            "description": "weather of a city",
        }
    ]
    assert body["tool_choice"] == {"type": "any"}


def test_parallel_tool_calls_stream_carry_their_index(sdk: openai.OpenAI, tag: str) -> None:
    stream = sdk.chat.completions.create(
        model="claude",
        messages=user(f"{tag} #mock tools=1 tool_calls=2"),
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += (call.function and call.function.name) or ""
            entry["arguments"] += (call.function and call.function.arguments) or ""
    assert calls == {
        0: {"id": "toolu_mock0", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "toolu_mock1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(
    sdk: openai.OpenAI, mock: MockUpstream, tag: str, choice: Any, parallel: Any, expected: Any
) -> None:
    extra = {} if parallel is None else {"parallel_tool_calls": parallel}
    sdk.chat.completions.create(
        model="claude",
        messages=user(tag),
        tools=[WEATHER],
        tool_choice=choice,
        **extra,  # type: ignore[arg-type]
    )
    assert mock.request(tag)["body"]["tool_choice"] == expected


def test_tool_results_round_trip(sdk: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    first = sdk.chat.completions.create(
        model="claude",
        messages=user(f"{tag}a #mock tools=1 tool_calls=2"),
        tools=[WEATHER],  # type: ignore[list-item]
    )
    message = first.choices[0].message
    calls = message.tool_calls or []
    history: list[Any] = [
        *user(f"{tag}a #mock tools=1 tool_calls=2"),
        message.model_dump(exclude_none=True),
        *[
            {"role": "tool", "tool_call_id": c.id, "content": f"sunny {i} {tag}b"}
            for i, c in enumerate(calls)
        ],
    ]
    reply = sdk.chat.completions.create(model="claude", messages=history, tools=[WEATHER])  # type: ignore[list-item]
    assert reply.choices[0].message.content == "w0 w1 w2 "
    body = mock.request(f"{tag}b")["body"]
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_mock0",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {
                "type": "tool_use",
                "id": "toolu_mock1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
    }
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_mock0", "content": f"sunny 0 {tag}b"},
            {"type": "tool_result", "tool_use_id": "toolu_mock1", "content": f"sunny 1 {tag}b"},
        ],
    }


# Reasoning


def test_thinking_is_reasoning_content(sdk: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    reply = sdk.chat.completions.create(
        model="claude",
        messages=user(f"{tag} #mock chunks=2 reasoning=1"),
        reasoning_effort="medium",
    )
    message = reply.choices[0].message.model_dump()
    assert (message["content"], message["reasoning_content"]) == ("w0 w1 ", "r0 r1 ")
    body = mock.request(tag)["body"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] == 4096 + 4096


def test_thinking_stream_is_reasoning_content_deltas(http: httpx.Client, tag: str) -> None:
    _, raw = stream_raw(
        http, {"model": "claude", "messages": user(f"{tag} #mock chunks=2 reasoning=1")}
    )
    events = sse(raw)
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
    assert [d.get("reasoning_content") for d in deltas if "reasoning_content" in d] == [
        "r0 ",
        "r1 ",
    ]
    assert "".join(d.get("content") or "" for d in deltas) == "w0 w1 "


# Streams


def test_stream_role_first_usage_hidden_unless_asked(
    http: httpx.Client, gw: RunningGateway, tag: str
) -> None:
    response, raw = stream_raw(http, {"model": "claude", "messages": user(f"{tag} #mock chunks=3")})
    events = sse(raw)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["choices"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "w0 w1 w2 "
    row = gw.completion(response.headers["x-request-id"])
    assert (row.usage.prompt_tokens, row.usage.completion_tokens, row.stream) == (3, 3, True)
    assert row.cost_usd > 0

    _, raw = stream_raw(
        http,
        {
            "model": "claude",
            "messages": user(f"{tag}u #mock chunks=3"),
            "stream_options": {"include_usage": True},
        },
    )
    usage_chunk = json.loads(sse(raw)[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3


def test_empty_stream_is_an_empty_200(http: httpx.Client, gw: RunningGateway, tag: str) -> None:
    response, raw = stream_raw(http, {"model": "claude", "messages": user(f"{tag} #mock empty=1")})
    assert response.status_code == 200 and raw == ""
    row = gw.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (200, None)


@pytest.mark.parametrize("fault", ["disconnect_after=2", "error_event_after=2"])
def test_mid_stream_failure_is_one_error_event_without_done(
    http: httpx.Client, gw: RunningGateway, tag: str, fault: str
) -> None:
    response, raw = stream_raw(
        http, {"model": "claude", "messages": user(f"{tag} #mock chunks=5 {fault}")}
    )
    events = sse(raw)
    assert response.status_code == 200
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["type"] == "upstream_error"
    assert last["error"]["code"] == "upstream_disconnected"
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert contents == ["", "w0 ", "w1 "]
    assert not any('finish_reason":"stop' in e for e in events)
    row = gw.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type, len(row.attempts)) == (200, "upstream_disconnected", 1)


def test_first_token_timeout_is_504(http: httpx.Client, tag: str) -> None:
    body = {"model": "claude-tight", "messages": user(f"{tag} #mock ttft_ms=3000"), "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "request_timeout"


def test_client_disconnect_cancels_the_upstream(
    gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = {
        "model": "claude",
        "messages": user(f"{tag} #mock chunks=50 inter_ms=200"),
        "stream": True,
    }
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            request_id = r.headers["x-request-id"]
            next(line for line in r.iter_lines() if line.startswith("data: "))
        closed_at = time.time()
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0
    row = gw.completion(request_id)
    assert (row.status_code, row.error_type) == (200, "client_disconnected")


# Errors


def test_overloaded_529_is_retried_then_502(
    http: httpx.Client, gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(
        "/v1/chat/completions",
        json={"model": "claude", "messages": user(f"{tag} #mock status=529")},
    )
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
    row = gw.completion(response.headers["x-request-id"])
    assert [a.status_code for a in row.attempts] == [529, 529, 529]
    assert len(mock.requests(tag)) == 3


def test_overloaded_once_then_answered(http: httpx.Client, gw: RunningGateway, tag: str) -> None:
    response, raw = stream_raw(
        http, {"model": "claude", "messages": user(f"{tag} #mock status=529 fail_times=1 id={tag}")}
    )
    assert response.status_code == 200 and sse(raw)[-1] == "[DONE]"
    row = gw.completion(response.headers["x-request-id"])
    assert [a.status_code for a in row.attempts] == [529, 200]


def test_rate_limit_429_passes_through_with_retry_after(http: httpx.Client, tag: str) -> None:
    response = http.post(
        "/v1/chat/completions",
        json={"model": "claude-noretry", "messages": user(f"{tag} #mock status=429 retry_after=7")},
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_upstream_400_passes_through(http: httpx.Client, tag: str) -> None:
    response = http.post(
        "/v1/chat/completions",
        json={"model": "claude", "messages": user(f"{tag} #mock status=400")},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["message"]) == ("invalid_request_error", "mock status 400")


def test_fallback_from_anthropic_to_openai(
    http: httpx.Client, gw: RunningGateway, tag: str
) -> None:
    response = http.post(
        "/v1/chat/completions",
        json={
            "model": "claude-then-gpt",
            "messages": user(f"{tag} #mock status=529 fail_times=1 id={tag}"),
        },
    )
    assert response.status_code == 200
    assert response.json()["id"].startswith("chatcmpl")
    row = gw.completion(response.headers["x-request-id"])
    assert [(a.backend, a.status_code) for a in row.attempts] == [
        ("claude-fb", 529),
        ("mock", 200),
    ]


def test_embeddings_are_refused_with_a_clear_400(http: httpx.Client) -> None:
    response = http.post("/v1/embeddings", json={"model": "claude", "input": "hello"})
    assert response.status_code == 400
    assert "serves" in response.json()["error"]["message"]


def test_unmappable_fields_are_refused(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", json={"model": "claude", "messages": user("x"), "n": 2}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"
