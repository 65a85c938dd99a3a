"""The `gemini` backend end to end: the openai SDK → gateway → mock Gemini API, stream and
non-stream, with the SPEC 4 faults. Wire-format details are unit-tested in
tests/translate/test_gemini.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from sluicegate.config.schema import GatewayConfig
from sluicegate.providers.gemini import status_error
from support import ALICE_KEY, NEVER_COOL, UPSTREAM_KEY, MockUpstream, RunningGateway, wait_until

IMAGE = "data:image/png;base64,iVBORw0KGgo="


def _backend(name: str, mock_url: str, retries: int, **timeouts: float) -> dict[str, object]:
    return {
        "name": name,
        "type": "gemini",
        "base_url": mock_url,
        "api_key": UPSTREAM_KEY,
        "max_retries": retries,
        "cooldown": NEVER_COOL,
        "timeouts": {"connect": 2, "first_token": 5, "idle": 5, "total": 20, **timeouts},
    }


@pytest.fixture(scope="module")
def gateway(mock: MockUpstream) -> Iterator[RunningGateway]:
    config = GatewayConfig.model_validate(
        {
            "server": {"keepalive_seconds": 0.3},
            "backends": [
                _backend("gm", mock.url, 1),
                _backend("gm-tight", mock.url, 0, first_token=0.5, idle=0.5, total=3),
            ],
            "models": [
                {
                    "name": "gem",
                    "targets": [{"backend": "gm", "model": "gemini-2.5-flash"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 4.0},
                },
                {"name": "gem-tight", "targets": [{"backend": "gm-tight", "model": "g"}]},
            ],
            "users": [{"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]}],
        }
    )
    running = RunningGateway(config)
    yield running
    running.stop()


@pytest.fixture
def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:
        yield client


def events(raw: str) -> list[str]:
    """The `data:` payloads of an SSE body (keep-alive comments dropped)."""
    blocks = [block for block in raw.split("\n\n") if block and not block.startswith(":")]
    assert all(block.startswith("data: ") for block in blocks), blocks
    return [block[len("data: ") :] for block in blocks]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def stream_raw(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        text = response.read().decode()
    return response, events(text) if text else []


# Text, system, usage, log row


def test_non_stream_text_with_system(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gem",
        messages=[{"role": "system", "content": "be brief"}, *user(f"{tag} #mock chunks=3")],
        max_tokens=50,
        temperature=0.2,
        stop=["END"],
    )
    answer = raw.parse()
    choice = answer.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("w0 w1 w2 ", "stop")
    assert answer.object == "chat.completion" and answer.model == "gemini-2.5-flash"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 3)
    record = mock.request(tag)
    assert record["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert record["headers"]["x-goog-api-key"] == UPSTREAM_KEY
    assert record["body"] == {
        "contents": [{"role": "user", "parts": [{"text": f"{tag} #mock chunks=3"}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "generationConfig": {"maxOutputTokens": 50, "temperature": 0.2, "stopSequences": ["END"]},
    }
    row = gateway.completion(raw.headers["x-request-id"])
    assert (row.backend, row.resolved_model, row.status_code, row.error_type) == (
        "gm",
        "gemini-2.5-flash",
        200,
        None,
    )
    assert (row.usage.prompt_tokens, row.usage.completion_tokens) == (5, 3)
    assert row.cost_usd == pytest.approx((5 * 1.0 + 3 * 4.0) / 1e6)


def test_stream_text_role_first_usage_last_and_done(
    client: openai.OpenAI, gateway: RunningGateway, http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gem",
            messages=user(f"{tag} #mock chunks=3"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:] if c.choices)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "w0 w1 w2 "
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert len({c.id for c in chunks}) == 1
    record = mock.request(tag)
    assert record["path"].endswith(":streamGenerateContent") and record["query"] == "alt=sse"

    response, parsed = stream_raw(http, {"model": "gem", "messages": user(f"{tag}b #mock")})
    assert parsed[-1] == "[DONE]" and parsed.count("[DONE]") == 1
    assert all(json.loads(e)["choices"] for e in parsed[:-1])  # usage chunk not asked: hidden
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.stream, row.usage.completion_tokens, row.backend) == (True, 3, "gm")


# Tools


def test_tool_call_round_trip(client: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            },
        }
    ]
    messages: list[Any] = user(f"{tag} #mock tools=1")
    first = client.chat.completions.create(
        model="gem", messages=messages, tools=tools, tool_choice="required"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    sent = mock.requests(tag)[0]["body"]
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather of a city",
                    "parametersJsonSchema": tools[0]["function"]["parameters"],
                }
            ]
        }
    ]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    client.chat.completions.create(model="gem", messages=messages, tools=tools)
    contents = mock.requests(tag)[1]["body"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    model_part = contents[1]["parts"][0]
    assert model_part["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert model_part["thoughtSignature"] == "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ=="
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}
    ]


def test_stream_tool_call_delta_has_index(http: httpx.Client, tag: str) -> None:
    _, parsed = stream_raw(http, {"model": "gem", "messages": user(f"{tag} #mock tools=1")})
    chunks = [json.loads(e) for e in parsed[:-1]]
    delta = chunks[0]["choices"][0]["delta"]
    assert delta["role"] == "assistant"
    (call,) = delta["tool_calls"]
    assert (call["index"], call["type"], call["function"]["name"]) == (0, "function", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


# Images, reasoning


def test_images_become_inline_and_file_data(
    client: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    content = [
        {"type": "text", "text": f"{tag} #mock chunks=1"},
        {"type": "image_url", "image_url": {"url": IMAGE}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": content}])
    parts = mock.request(tag)["body"]["contents"][0]["parts"]
    assert parts[1:] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
    ]


def test_reasoning_becomes_reasoning_content(http: httpx.Client, tag: str) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock chunks=2 reasoning=1")}
    answer = http.post("/v1/chat/completions", json=body).json()
    message = answer["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("w0 w1 ", "r0 r1 ")
    assert answer["usage"]["completion_tokens"] == 4
    assert answer["usage"]["completion_tokens_details"] == {"reasoning_tokens": 2}
    _, parsed = stream_raw(http, {**body, "reasoning_effort": "low"})
    deltas = [json.loads(e)["choices"][0]["delta"] for e in parsed[:-1]]
    assert [d.get("reasoning_content") for d in deltas[:2]] == ["r0 ", "r1 "]


# Finish reasons


@pytest.mark.parametrize(
    ("directive", "reason"),
    [
        ("finish=MAX_TOKENS", "length"),
        ("finish=SAFETY", "content_filter"),
        ("finish=RECITATION", "content_filter"),
        ("block=PROHIBITED_CONTENT", "content_filter"),
    ],
)
def test_finish_reasons(http: httpx.Client, tag: str, directive: str, reason: str) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock chunks=1 {directive}")}
    answer = http.post("/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["finish_reason"] == reason
    _, parsed = stream_raw(http, {**body, "messages": user(f"{tag}s #mock chunks=1 {directive}")})
    assert parsed[-1] == "[DONE]"
    assert json.loads(parsed[-2])["choices"][0]["finish_reason"] == reason


# Errors before the first byte


def test_resource_exhausted_is_429_with_retry_after(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    # retry_after beyond the backend's total timeout: not retried, passed through.
    body = {"model": "gem", "messages": user(f"{tag} #mock status=429 retry_after=60")}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert response.json()["error"] == {
        "message": "mock status 429",
        "type": "rate_limit_error",
        "code": "resource_exhausted",
        "param": None,
    }
    row = gateway.completion(response.headers["x-request-id"])
    assert row.status_code == 429 and len(row.attempts) == 1


def test_unavailable_is_retried_then_502(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock status=503"), "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    row = gateway.completion(response.headers["x-request-id"])
    assert [a.status_code for a in row.attempts] == [503, 503]
    assert len(mock.requests(tag)) == 2


def test_unavailable_once_then_answered(http: httpx.Client, tag: str) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock status=500 fail_times=1")}
    assert http.post("/v1/chat/completions", json=body).status_code == 200


def test_invalid_argument_passes_through(http: httpx.Client, tag: str) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock status=400")}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_argument")


def test_unsupported_operations_are_400(http: httpx.Client) -> None:
    response = http.post("/v1/embeddings", json={"model": "gem", "input": "x"})
    assert response.status_code == 400
    assert "/embeddings" in response.json()["error"]["message"]
    response = http.post("/v1/completions", json={"model": "gem", "prompt": "x"})
    assert response.status_code == 400


def test_untranslatable_request_is_400(http: httpx.Client) -> None:
    body = {
        "model": "gem",
        "messages": user("x"),
        "tools": [{"type": "web_search_preview"}],
    }
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools[0]"


# SPEC 4 faults


def test_empty_stream_is_an_empty_200(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, parsed = stream_raw(http, {"model": "gem", "messages": user(f"{tag} #mock empty=1")})
    assert (response.status_code, parsed) == (200, [])
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (200, None)


@pytest.mark.parametrize(
    "directive", ["disconnect_after=2", "error_event_after=2", "nofinish=1 chunks=2"]
)
def test_broken_stream_is_one_error_event_without_done(
    http: httpx.Client, gateway: RunningGateway, tag: str, directive: str
) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock chunks=5 {directive}")}
    response, parsed = stream_raw(http, body)
    assert response.status_code == 200
    assert "[DONE]" not in parsed
    error = json.loads(parsed[-1])["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_disconnected")
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in parsed[:-1]]
    assert contents == ["w0 ", "w1 "]
    assert not any(json.loads(e)["choices"][0]["finish_reason"] for e in parsed[:-1])
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type, len(row.attempts)) == (200, "upstream_disconnected", 1)


def test_mid_stream_failure_makes_the_openai_sdk_raise(client: openai.OpenAI, tag: str) -> None:
    stream = client.chat.completions.create(
        model="gem", messages=user(f"{tag} #mock chunks=5 disconnect_after=2"), stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_first_token_timeout_is_504(http: httpx.Client, gateway: RunningGateway, tag: str) -> None:
    body = {"model": "gem-tight", "messages": user(f"{tag} #mock ttft_ms=2000")}
    response = http.post("/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "request_timeout"
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (504, "timeout")


def test_idle_timeout_mid_stream(http: httpx.Client, tag: str) -> None:
    body = {"model": "gem-tight", "messages": user(f"{tag} #mock chunks=3 inter_ms=1500")}
    _, parsed = stream_raw(http, body)
    assert json.loads(parsed[-1])["error"]["code"] == "stream_idle_timeout"
    assert "[DONE]" not in parsed


def test_client_disconnect_cancels_the_gemini_stream(
    gateway: RunningGateway, http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = {"model": "gem", "messages": user(f"{tag} #mock chunks=50 inter_ms=200"), "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        request_id = response.headers["x-request-id"]
        next(line for line in response.iter_lines() if line.startswith("data: "))
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected" and record["chunks_sent"] < 50
    row = gateway.completion(request_id)
    assert (row.status_code, row.error_type) == (200, "client_disconnected")


# Error mapping, unit


def test_status_error_mapping() -> None:
    bad_key = {
        "error": {
            "code": 400,
            "message": "API key not valid.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    error = status_error(400, json.dumps(bad_key).encode(), {})
    assert (error.status_code, error.error_type, error.error_code) == (
        401,
        "authentication_error",
        "invalid_argument",
    )
    exhausted = [
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
                ],
            }
        }
    ]
    error = status_error(429, json.dumps(exhausted).encode(), {})
    assert (error.status_code, error.retry_after, error.message) == (429, 37.0, "Quota exceeded")
    assert status_error(429, b"{}", {"retry-after": "3"}).retry_after == 3.0
    unavailable = status_error(503, b"not json", {})
    assert (unavailable.status_code, unavailable.is_retryable) == (502, True)
