"""POST /v1/responses with the official `openai` SDK, translated to chat for the OpenAI mock:
string and item inputs, function tools round trip, structured output, stream events in order
with increasing sequence numbers, `response.failed` on a broken stream, stateless refusals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from sluicegate.config.schema import GatewayConfig
from support import (
    ALICE_KEY,
    MASTER_KEY,
    NEVER_COOL,
    SCRIBE_KEY,
    UPSTREAM_KEY,
    MockUpstream,
    RunningGateway,
    wait_until,
)


def sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE block, comments left out."""
    out = []
    for block in raw.split("\n\n"):
        if not block or block.startswith(":"):
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def stream_raw(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, str]:
    with http.stream("POST", "/v1/responses", json={**body, "stream": True}) as response:
        return response, response.read().decode()


def test_string_input(
    client: openai.OpenAI, mock: MockUpstream, gateway: RunningGateway, tag: str
) -> None:
    raw = client.responses.with_raw_response.create(
        model="m", input=f"{tag} #mock chunks=2", max_output_tokens=50, temperature=0.5
    )
    response = raw.parse()
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.output_text == "w0 w1 "
    assert response.output[0].type == "message"
    assert response.usage is not None and response.usage.output_tokens == 2
    assert response.usage.total_tokens == response.usage.input_tokens + 2
    body = mock.request(tag)["body"]
    assert body["messages"] == [{"role": "user", "content": f"{tag} #mock chunks=2"}]
    assert (body["max_completion_tokens"], body["temperature"]) == (50, 0.5)
    assert body["model"] == "mock-model"
    row = gateway.completion(raw.headers["x-request-id"])
    assert (row.path, row.model, row.backend, row.usage.completion_tokens) == (
        "/v1/responses",
        "m",
        "mock",
        2,
    )


def test_items_input_with_instructions(client: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    client.responses.create(
        model="m",
        instructions="be brief",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": f"{tag} hello"}]},
            {"type": "message", "role": "assistant", "content": "hi"},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": f"look {tag}"},
                    {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
                ],
            },
        ],
        reasoning={"effort": "low"},
    )
    body = mock.request(tag)["body"]
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": f"{tag} hello"}]},
        {"role": "assistant", "content": "hi"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"look {tag}"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
            ],
        },
    ]
    assert body["reasoning_effort"] == "low"


TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def test_function_tool_round_trip(client: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    first = client.responses.create(
        model="m", input=f"{tag}a #mock tools=1", tools=[TOOL], tool_choice="auto"
    )
    call = first.output[0]
    assert call.type == "function_call"
    assert (call.name, call.call_id, json.loads(call.arguments)) == (
        "get_weather",
        "call_mock",
        {"city": "Paris"},
    )
    sent = mock.request(f"{tag}a")["body"]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {k: TOOL[k] for k in ("name", "description", "parameters")},
        }
    ]
    assert sent["tool_choice"] == "auto"
    history: Any = [
        {"role": "user", "content": f"{tag}a"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": f"sunny {tag}b"},
    ]
    second = client.responses.create(
        model="m",
        input=history,
        tools=[TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert second.output_text == "w0 w1 w2 "
    sent = mock.requests(f"{tag}a")[-1]["body"]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_mock",
                "type": "function",
                "function": {"name": "get_weather", "arguments": call.arguments},
            }
        ],
    }
    assert sent["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_mock",
        "content": f"sunny {tag}b",
    }
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_json_schema_format_passed_on(client: openai.OpenAI, mock: MockUpstream, tag: str) -> None:
    schema: Any = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    client.responses.create(
        model="m",
        input=tag,
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
    )
    assert mock.request(tag)["body"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }


def test_stream_with_the_sdk(client: openai.OpenAI, gateway: RunningGateway, tag: str) -> None:
    with client.responses.stream(model="m", input=f"{tag} #mock chunks=3") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["w0 ", "w1 ", "w2 "]
    assert final.output_text == "w0 w1 w2 " and final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens == 3
    events = list(client.responses.create(model="m", input=f"{tag}b #mock chunks=1", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_stream_events_in_order(http: httpx.Client, gateway: RunningGateway, tag: str) -> None:
    response, raw = stream_raw(http, {"model": "m", "input": f"{tag} #mock chunks=2"})
    assert response.headers["content-type"] == "text/event-stream"
    events = sse(raw)
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(data["type"] == name for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert "[DONE]" not in raw
    done = events[-1][1]["response"]
    assert done["usage"]["output_tokens"] == 2 and done["status"] == "completed"
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.path, row.stream, row.usage.completion_tokens) == ("/v1/responses", True, 2)


def test_stream_function_call_events(http: httpx.Client, tag: str) -> None:
    _, raw = stream_raw(http, {"model": "m", "input": f"{tag} #mock tools=1", "tools": [TOOL]})
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[2] == "response.output_item.added"
    assert names.count("response.function_call_arguments.delta") == 3
    done = dict(events)["response.function_call_arguments.done"]
    assert json.loads(done["arguments"]) == {"city": "Paris"}
    item = events[-1][1]["response"]["output"][0]
    assert (item["type"], item["call_id"], item["name"]) == (
        "function_call",
        "call_mock",
        "get_weather",
    )


def test_mid_stream_disconnect_is_response_failed(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, raw = stream_raw(
        http, {"model": "m", "input": f"{tag} #mock chunks=5 disconnect_after=2"}
    )
    assert response.status_code == 200
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[-1] == "response.failed" and names.count("response.failed") == 1
    assert "response.completed" not in names
    failed = events[-1][1]
    assert failed["sequence_number"] == len(events) - 1
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["error"]["message"].startswith("upstream_disconnected: ")
    deltas = [d["delta"] for n, d in events if n == "response.output_text.delta"]
    assert deltas == ["w0 ", "w1 "]
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (200, "upstream_disconnected")


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["message"]


def test_previous_response_id_is_refused(http: httpx.Client) -> None:
    body = {"model": "m", "input": "x", "previous_response_id": "resp_123"}
    status, kind, message = error_of(http.post("/v1/responses", json=body))
    assert (status, kind) == (400, "invalid_request_error")
    assert "previous_response_id" in message and "no state" in message


@pytest.mark.parametrize("tool", ["web_search", "file_search", "code_interpreter"])
def test_built_in_tool_is_refused(client: openai.OpenAI, tool: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        tools: Any = [{"type": tool}]
        client.responses.create(model="m", input="x", tools=tools)
    assert tool in refused.value.message and "function tools" in refused.value.message


def test_validation_and_unprefixed_path(http: httpx.Client) -> None:
    status, kind, _ = error_of(http.post("/v1/responses", json={"model": "m"}))
    assert (status, kind) == (400, "invalid_request_error")
    assert http.get("/v1/responses").status_code == 405
    response = http.post("/responses", json={"model": "demo-echo", "input": "hello there"})
    assert response.json()["output"][0]["content"][0]["text"] == "hello there"


def test_compact_stream_log(gateway: RunningGateway, tag: str) -> None:
    headers = {"authorization": f"Bearer {SCRIBE_KEY}"}
    body = {"model": "m", "input": f"{tag} #mock chunks=2", "stream": True}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as scribe:
        response = scribe.post("/v1/responses", json=body)
    row = gateway.completion(response.headers["x-request-id"])
    doc = json.loads(row.response_body or "")
    assert doc["format"] == "sluicegate.responses_stream.compact.v1"
    assert doc["status"] == "completed" and doc["stream"]["done"] is True
    assert doc["output"][0]["content"][0]["text"] == "w0 w1 "
    assert doc["usage"]["output_tokens"] == 2


# `responses: native` backends (forwarded as is) beside translated ones, on a gateway of its own


def native_config(mock_url: str, folder: Path) -> GatewayConfig:
    def backend(name: str, kind: str, url: str, **extra: object) -> dict[str, object]:
        timeouts = {"connect": 2, "first_token": 5, "idle": 5, "total": 20}
        return {
            "name": name,
            "type": kind,
            "base_url": url,
            "api_key": UPSTREAM_KEY,
            "max_retries": 0,
            "timeouts": timeouts,
            "cooldown": NEVER_COOL,
            **extra,
        }

    return GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "server": {"master_key": MASTER_KEY},
            "backends": [
                backend("native", "openai", mock_url + "/v1", responses="native"),
                backend("claude", "anthropic", mock_url),
            ],
            "models": [
                {
                    "name": "native",
                    "targets": [{"backend": "native", "model": "mock-model"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                },
                {"name": "claude", "targets": [{"backend": "claude", "model": "claude-x"}]},
            ],
            "users": [
                {"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]},
                {
                    "name": "scribe",
                    "api_keys": [SCRIBE_KEY],
                    "models": ["*"],
                    "detail_logging": True,
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def native_gw(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = RunningGateway(native_config(mock.url, tmp_path_factory.mktemp("responses")))
    yield running
    running.stop()


@pytest.fixture
def native_sdk(native_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=native_gw.url + "/v1", api_key=ALICE_KEY, max_retries=0)


def test_native_reply_forwarded(
    native_sdk: openai.OpenAI, native_gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    raw = native_sdk.responses.with_raw_response.create(
        model="native", input=f"{tag} #mock chunks=2", previous_response_id="resp_kept"
    )
    response = raw.parse()
    assert response.output_text == "w0 w1 " and response.id.startswith("resp_resp")
    record = mock.request(tag)
    assert record["path"] == "/v1/responses"
    assert record["body"]["previous_response_id"] == "resp_kept"  # the backend keeps state
    assert record["body"]["model"] == "mock-model" and "stream_options" not in record["body"]
    row = native_gw.completion(raw.headers["x-request-id"])
    assert (row.path, row.backend, row.usage.completion_tokens) == ("/v1/responses", "native", 2)
    assert row.cost_usd is not None and row.cost_usd > 0


def test_native_stream_forwarded(
    native_sdk: openai.OpenAI, native_gw: RunningGateway, tag: str
) -> None:
    with native_sdk.responses.stream(model="native", input=f"{tag} #mock chunks=3") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["w0 ", "w1 ", "w2 "] and final.output_text == "w0 w1 w2 "
    headers = {"authorization": f"Bearer {SCRIBE_KEY}"}
    body = {"model": "native", "input": f"{tag}b #mock chunks=2", "stream": True}
    with httpx.Client(base_url=native_gw.url, headers=headers, timeout=10) as scribe:
        response, raw = stream_raw(scribe, body)
    events = sse(raw)
    assert events[-1][0] == "response.completed" and "[DONE]" not in raw
    row = native_gw.completion(response.headers["x-request-id"])
    assert (row.stream, row.usage.completion_tokens, row.error_type) == (True, 2, None)
    doc = json.loads(row.response_body or "")
    assert doc["format"] == "sluicegate.responses_stream.compact.v1"
    assert doc["output"][0]["content"][0]["text"] == "w0 w1 "


@pytest.mark.parametrize("fault", ["disconnect_after=2", "error_event_after=2"])
def test_native_mid_stream_failure_is_response_failed(
    native_gw: RunningGateway, tag: str, fault: str
) -> None:
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    body = {"model": "native", "input": f"{tag} #mock chunks=5 {fault}"}
    with httpx.Client(base_url=native_gw.url, headers=headers, timeout=10) as client:
        response, raw = stream_raw(client, body)
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[-1] == "response.failed" and "response.completed" not in names
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert events[-1][1]["response"]["status"] == "failed"
    row = native_gw.completion(response.headers["x-request-id"])
    assert row.error_type == "upstream_disconnected"


def test_translated_to_an_anthropic_backend(
    native_sdk: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    response = native_sdk.responses.create(
        model="claude", instructions="be brief", input=f"{tag} #mock chunks=2"
    )
    assert response.output_text == "w0 w1 " and response.status == "completed"
    sent = mock.request(tag)
    assert sent["path"] == "/v1/messages" and sent["body"]["system"] == "be brief"
    with native_sdk.responses.stream(model="claude", input=f"{tag}b #mock chunks=2") as stream:
        assert stream.get_final_response().output_text == "w0 w1 "


def test_native_is_for_openai_backends_only(tmp_path: Path) -> None:
    config = native_config("http://127.0.0.1:1", tmp_path).model_dump()
    config["backends"][1]["responses"] = "native"
    with pytest.raises(ValueError, match="responses: native applies to openai backends only"):
        GatewayConfig.model_validate(config)


def test_client_disconnect_cancels_the_upstream(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = {"model": "m", "input": f"{tag} #mock chunks=50 inter_ms=200", "stream": True}
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=gateway.url, timeout=10, headers=headers) as client:
        with client.stream("POST", "/v1/responses", json=body) as response:
            request_id = response.headers["x-request-id"]
            next(line for line in response.iter_lines() if "output_text.delta" in line)
        closed_at = time.time()
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0
    row = gateway.completion(request_id)
    assert (row.path, row.error_type) == ("/v1/responses", "client_disconnected")
