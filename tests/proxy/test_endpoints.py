"""The public endpoints of SPEC 3 on their happy paths, through the openai SDK and raw httpx,
with the Completion (SPEC 6) each success leaves behind."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from sluicegate.record import Completion
from support import (
    ALICE_KEY,
    BOB_KEY,
    MASTER_KEY,
    REASONER_KEY,
    UPSTREAM_KEY,
    MockUpstream,
    RunningGateway,
)

CHAT = "/v1/chat/completions"
CONFIGURED_MODELS = {"m", "noretry", "tight", "short-total", "dead-then-m", "demo-echo"}


def chat(model: str, text: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def sdk(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def stream_chunks(http: httpx.Client, body: dict[str, object], key: str = ALICE_KEY) -> list[Any]:
    """The JSON chunks of a chat stream, which must end with [DONE]."""
    headers = {"authorization": f"Bearer {key}"}
    with http.stream("POST", CHAT, json={**body, "stream": True}, headers=headers) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    payloads = [
        block[len("data: ") :]
        for block in raw.split("\n\n")
        if block.startswith("data: ")  # keep-alive comments are not data
    ]
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


def assert_success(
    record: Completion,
    *,
    model: str,
    stream: bool,
    backend: str = "mock",
    resolved_model: str = "mock-model",
    user_id: str = "alice",
) -> None:
    assert (record.user_id, record.model, record.resolved_model, record.backend) == (
        user_id,
        model,
        resolved_model,
        backend,
    )
    assert record.key_id and ALICE_KEY not in record.key_id and BOB_KEY not in record.key_id
    assert (record.stream, record.status_code, record.error_type) == (stream, 200, None)
    assert record.error_message is None
    assert record.latency_ms > 0
    if stream:
        assert record.ttft_ms is not None and 0 <= record.ttft_ms <= record.latency_ms


# /v1/chat/completions


def test_chat_non_stream_through_the_mock(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    completion = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} hello"}],
        extra_headers={"x-request-id": tag},
    )
    assert completion.choices[0].message.content == "w0 w1 w2 "
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2, 3, 5)

    upstream = mock.request(tag)
    assert upstream["path"] == "/v1/chat/completions"
    assert upstream["model"] == "mock-model"
    assert upstream["stream"] is False
    assert upstream["authorization"] == f"Bearer {UPSTREAM_KEY}"
    # The client's key never leaves the gateway.
    assert ALICE_KEY not in json.dumps(upstream["headers"])
    assert ALICE_KEY not in json.dumps(upstream["body"])

    record = gateway.completion(tag)
    assert_success(record, model="m", stream=False)
    assert record.path == "/v1/chat/completions"
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (2, 3)
    assert record.usage.total_tokens == 5
    assert record.cost_usd == pytest.approx((2 * 1.0 + 3 * 2.0) / 1e6)
    assert [(a.backend, a.status_code, a.error_type) for a in record.attempts] == [
        ("mock", 200, None)
    ]


def test_chat_key_sent_as_x_api_key_is_not_forwarded(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = httpx.post(
        gateway.url + CHAT,
        json=chat("m", f"{tag} #mock chunks=1"),
        headers={"x-api-key": ALICE_KEY},
        timeout=30,
    )
    assert response.status_code == 200
    assert "x-sluicegate-overhead-ms" in response.headers
    upstream = mock.request(tag)
    assert upstream["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "x-api-key" not in upstream["headers"]
    assert ALICE_KEY not in json.dumps(upstream["headers"])


def test_chat_stream_through_the_mock(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} one two #mock chunks=4"}],
        stream=True,
        extra_headers={"x-request-id": tag},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "w0 w1 w2 w3 "
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert mock.request(tag)["model"] == "mock-model"

    record = gateway.completion(tag)
    assert_success(record, model="m", stream=True)
    # prompt: "tag one two #mock chunks=4" is five words.
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (5, 4)
    assert record.cost_usd == pytest.approx((5 * 1.0 + 4 * 2.0) / 1e6)


# /v1/completions


def test_completions_non_stream(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    completion = client.completions.create(
        model="m", prompt=f"{tag} #mock chunks=2", extra_headers={"x-request-id": tag}
    )
    assert completion.choices[0].text == "w0 w1 "
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 2)
    upstream = mock.request(tag)
    assert (upstream["path"], upstream["model"]) == ("/v1/completions", "mock-model")
    assert upstream["authorization"] == f"Bearer {UPSTREAM_KEY}"
    record = gateway.completion(tag)
    assert_success(record, model="m", stream=False)
    assert record.path == "/v1/completions"
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (3, 2)
    assert record.cost_usd == pytest.approx((3 * 1.0 + 2 * 2.0) / 1e6)


def test_completions_stream(
    client: openai.OpenAI, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    stream = client.completions.create(
        model="m", prompt=f"{tag} #mock chunks=3", stream=True, extra_headers={"x-request-id": tag}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "w0 w1 w2 "
    assert [c for c in chunks if c.choices][-1].choices[0].finish_reason == "stop"
    upstream = mock.request(tag)
    assert upstream["stream"] is True and upstream["path"] == "/v1/completions"
    record = gateway.completion(tag)
    assert_success(record, model="m", stream=True)
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (3, 3)


# /v1/embeddings


def test_embeddings_via_sdk(
    client: openai.OpenAI, http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    result = client.embeddings.create(
        model="m", input=[f"{tag} a b", "c d"], extra_headers={"x-request-id": tag}
    )
    assert [e.index for e in result.data] == [0, 1]
    vectors = [e.embedding for e in result.data]
    assert all(len(v) == 8 for v in vectors)
    assert all(isinstance(x, float) and -1 <= x <= 1 for v in vectors for x in v)
    assert vectors[0] != vectors[1]
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (5, 5)
    upstream = mock.request(tag)
    assert (upstream["path"], upstream["model"]) == ("/v1/embeddings", "mock-model")

    # The same text as floats (the SDK asked for base64) decodes to the same vector.
    response = http.post(
        "/v1/embeddings", json={"model": "m", "input": f"{tag} a b", "encoding_format": "float"}
    )
    assert response.status_code == 200
    assert response.json()["data"][0]["embedding"] == vectors[0]

    record = gateway.completion(tag)
    assert_success(record, model="m", stream=False)
    assert record.path == "/v1/embeddings"
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (5, 0)
    assert record.cost_usd == pytest.approx(5 * 1.0 / 1e6)


# the built-in demo backend


def test_demo_non_stream_echoes_the_last_user_message(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    completion = client.chat.completions.create(
        model="demo-echo",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": f"{tag} hello there"},
        ],
        extra_headers={"x-request-id": tag},
    )
    assert completion.choices[0].message.content == f"{tag} hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    assert completion.usage.prompt_tokens == 2 + 2 + 2 + 3
    record = gateway.completion(tag)
    assert_success(
        record, model="demo-echo", stream=False, backend="demo", resolved_model="demo-echo"
    )
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (9, 3)


def test_demo_stream_echoes_word_by_word_with_usage(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="demo-echo",
        messages=[{"role": "user", "content": f"{tag} hello there world"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": tag},
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    words = [p for p in pieces if p]
    assert len(words) == 4
    assert "".join(words) == f"{tag} hello there world"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1
    assert (usage[0].prompt_tokens, usage[0].completion_tokens) == (4, 4)
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    record = gateway.completion(tag)
    assert_success(
        record, model="demo-echo", stream=True, backend="demo", resolved_model="demo-echo"
    )
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (4, 4)


def test_demo_completions_echo(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="demo-echo", prompt="say it back")
    assert completion.choices[0].text == "say it back"


# /v1/models and /v1/models/{id}


def model_ids(gateway: RunningGateway, key: str) -> list[str]:
    response = httpx.get(
        gateway.url + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["object"] == "list"
    assert all(entry["object"] == "model" for entry in body["data"])
    ids = [entry["id"] for entry in body["data"]]
    assert len(ids) == len(set(ids))
    return ids


def test_models_lists_only_what_the_key_may_use(gateway: RunningGateway) -> None:
    assert set(model_ids(gateway, BOB_KEY)) == {"m", "demo/demo-echo"}
    alice = set(model_ids(gateway, ALICE_KEY))
    assert alice >= CONFIGURED_MODELS
    assert "demo/demo-echo" in alice
    assert set(model_ids(gateway, MASTER_KEY)) >= CONFIGURED_MODELS


def test_models_via_sdk(gateway: RunningGateway) -> None:
    ids = {model.id for model in sdk(gateway, BOB_KEY).models.list()}
    assert ids == {"m", "demo/demo-echo"}
    assert sdk(gateway, ALICE_KEY).models.retrieve("m").id == "m"
    with pytest.raises(openai.NotFoundError):
        sdk(gateway, BOB_KEY).models.retrieve("noretry")


def test_models_need_a_key(gateway: RunningGateway) -> None:
    response = httpx.get(gateway.url + "/v1/models", timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    response = httpx.get(gateway.url + "/v1/models/m", timeout=30)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("key", "model_id", "status"),
    [
        (ALICE_KEY, "m", 200),
        (ALICE_KEY, "noretry", 200),
        (ALICE_KEY, "demo/demo-echo", 200),
        (BOB_KEY, "m", 200),
        (BOB_KEY, "demo/demo-echo", 200),
        (BOB_KEY, "noretry", 404),
        (BOB_KEY, "demo-echo", 404),
        (ALICE_KEY, "no-such-model", 404),
        (ALICE_KEY, "nope/x", 404),
    ],
)
def test_model_by_id(gateway: RunningGateway, key: str, model_id: str, status: int) -> None:
    response = httpx.get(
        f"{gateway.url}/v1/models/{model_id}",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    if status == 200:
        assert response.json()["id"] == model_id
        assert response.json()["object"] == "model"
    else:
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "model_not_found")
        assert set(error) == {"message", "type", "code", "param"}


# /health and /health/ready


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_health_needs_no_key(gateway: RunningGateway, path: str) -> None:
    response = httpx.get(gateway.url + path, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    assert isinstance(response.json(), dict)


# tool calls


def test_tool_call_stream_accumulates_arguments(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} weather? #mock tools=1"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        stream=True,
        extra_headers={"x-request-id": tag},
    )
    ids, names, arguments, finish = [], [], [], []
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                assert call.index == 0
                if call.id:
                    ids.append(call.id)
                if call.function and call.function.name:
                    names.append(call.function.name)
                if call.function and call.function.arguments:
                    arguments.append(call.function.arguments)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert (ids, names) == (["call_mock"], ["get_weather"])
    assert "".join(arguments) == '{"city": "Paris"}'
    assert json.loads("".join(arguments)) == {"city": "Paris"}
    assert finish == ["tool_calls"]
    record = gateway.completion(tag)
    assert_success(record, model="m", stream=True)


def test_tool_call_non_stream(client: openai.OpenAI, tag: str) -> None:
    completion = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": f"{tag} #mock tools=1"}]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_mock",
        "get_weather",
        '{"city": "Paris"}',
    )


# copy_reasoning_to_reasoning_content (SPEC 4, last paragraph)


def non_stream_message(http: httpx.Client, key: str, text: str) -> dict[str, Any]:
    response = http.post(CHAT, json=chat("m", text), headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200
    message: dict[str, Any] = response.json()["choices"][0]["message"]
    return message


def stream_deltas(http: httpx.Client, key: str, text: str) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in stream_chunks(http, chat("m", text), key)]


def test_reasoning_is_copied_for_a_user_who_asked(http: httpx.Client, tag: str) -> None:
    message = non_stream_message(http, REASONER_KEY, f"{tag} #mock reasoning=1")
    assert message["reasoning"] == "r0 r1 r2 "
    assert message["reasoning_content"] == message["reasoning"]
    assert message["content"] == "w0 w1 w2 "

    deltas = stream_deltas(http, REASONER_KEY, f"{tag}s #mock reasoning=1")
    with_reasoning = [d for d in deltas if "reasoning" in d]
    assert [d["reasoning"] for d in with_reasoning] == ["r0 ", "r1 ", "r2 "]
    assert all(d["reasoning_content"] == d["reasoning"] for d in with_reasoning)
    assert "".join(d.get("content") or "" for d in deltas) == "w0 w1 w2 "


def test_reasoning_is_not_copied_for_other_users(http: httpx.Client, tag: str) -> None:
    message = non_stream_message(http, ALICE_KEY, f"{tag} #mock reasoning=1")
    assert message["reasoning"] == "r0 r1 r2 "
    assert "reasoning_content" not in message

    deltas = stream_deltas(http, ALICE_KEY, f"{tag}s #mock reasoning=1")
    assert [d["reasoning"] for d in deltas if "reasoning" in d] == ["r0 ", "r1 ", "r2 "]
    assert not any("reasoning_content" in d for d in deltas)


def test_existing_reasoning_content_is_not_overwritten(http: httpx.Client, tag: str) -> None:
    text = f"{tag} #mock reasoning=1 reasoning_content=1"
    message = non_stream_message(http, REASONER_KEY, text)
    assert message["reasoning"] == "r0 r1 r2 "
    assert message["reasoning_content"] == "g0 g1 g2 "

    deltas = [d for d in stream_deltas(http, REASONER_KEY, f"{text} s") if "reasoning" in d]
    assert [(d["reasoning"], d["reasoning_content"]) for d in deltas] == [
        ("r0 ", "g0 "),
        ("r1 ", "g1 "),
        ("r2 ", "g2 "),
    ]


def test_reasoning_copy_reaches_the_sdk(gateway: RunningGateway, tag: str) -> None:
    stream = sdk(gateway, REASONER_KEY).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} #mock reasoning=1 chunks=2"}],
        stream=True,
    )
    copied = [getattr(c.choices[0].delta, "reasoning_content", None) for c in stream if c.choices]
    assert "".join(x for x in copied if x) == "r0 r1 "
