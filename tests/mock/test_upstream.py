"""The mock upstream, served in a background thread and driven by httpx and the openai SDK."""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from sluicegate.mock import directives
from sluicegate.mock.upstream import Started, start

RECORD_KEYS = {
    "seq",
    "path",
    "query",
    "model",
    "stream",
    "text",
    "body",
    "authorization",
    "headers",
    "status",
    "outcome",
    "chunks_sent",
    "started_at",
    "ended_at",
}


class MockServer:
    """A running mock and the clients that talk to it."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.sdk = openai.OpenAI(base_url=f"{self.url}/v1", api_key="x", max_retries=0)

    def chat(self, text: str, **fields: Any) -> httpx.Response:
        body = {"model": "mock-model", "messages": [{"role": "user", "content": text}], **fields}
        return self.http.post("/v1/chat/completions", json=body)

    def stream_chat(self, text: str, **fields: Any) -> Any:
        body = {"model": "mock-model", "messages": [{"role": "user", "content": text}]}
        return self.http.stream("POST", "/v1/chat/completions", json={**body, **fields})

    def records(self, contains: str | None = None) -> list[dict[str, Any]]:
        params = {"contains": contains} if contains is not None else None
        response = self.http.get("/_mock/requests", params=params)
        assert response.status_code == 200
        records: list[dict[str, Any]] = response.json()["requests"]
        return records

    def wait_record(
        self, contains: str, done: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Poll until the newest record whose text has `contains` satisfies `done`."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(contains)
            if records and done(records[-1]):
                return records[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching record for {contains!r}: {records}")
            time.sleep(0.01)


def _uvloop_factory() -> asyncio.AbstractEventLoop:
    uvloop = pytest.importorskip("uvloop")
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


# `run()` serves on uvloop when it is installed, so every test runs on both loops.
@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def server_port(request: pytest.FixtureRequest) -> Iterator[int]:
    loop = asyncio.new_event_loop() if request.param == "asyncio" else _uvloop_factory()
    ready = threading.Event()
    started: list[Started] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        started.append(loop.run_until_complete(start("127.0.0.1", 0)))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(started[0].runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="mock-upstream", daemon=True)
    thread.start()
    assert ready.wait(10), "mock upstream did not start"
    yield started[0].port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    assert not thread.is_alive()


@pytest.fixture
def mock(server_port: int) -> Iterator[MockServer]:
    server = MockServer(server_port)
    assert server.http.delete("/_mock/requests").status_code == 200
    try:
        yield server
    finally:
        server.http.close()
        server.sdk.close()


def sse_data(body: bytes) -> list[bytes]:
    """The `data:` payloads of an SSE body, checking OpenAI's framing on the way."""
    assert body == b"" or body.endswith(b"\n\n")
    events = [event for event in body.split(b"\n\n") if event]
    assert all(event.startswith(b"data: ") for event in events)
    return [event.removeprefix(b"data: ") for event in events]


# Directive parsing ----------------------------------------------------------------------


def test_text_without_directive_parses_to_the_shared_default() -> None:
    assert directives.parse("hello there") is directives.DEFAULT


def test_directive_takes_rest_of_first_line_and_ignores_unknown_keys() -> None:
    text = "hi #mock chunks=5 colour=blue inter_ms=oops status=503\nchunks=9\n#mock chunks=7"
    d = directives.parse(text)
    assert (d.chunks, d.status, d.inter_ms, d.line) == (5, 503, 0, text.split("\n")[0][9:])


# Chat -----------------------------------------------------------------------------------


def test_chat_non_stream(mock: MockServer) -> None:
    completion = mock.sdk.chat.completions.create(
        model="mock-model",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello #mock chunks=4"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.model == "mock-model"
    assert completion.choices[0].message.content == "w0 w1 w2 w3 "
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 4)

    (record,) = mock.records()
    assert set(record) == RECORD_KEYS
    assert record["path"] == "/v1/chat/completions"
    assert (record["outcome"], record["status"], record["chunks_sent"]) == ("completed", 200, 4)
    assert record["stream"] is False
    assert record["text"] == "hello #mock chunks=4"
    assert record["authorization"] == "Bearer x"
    assert record["headers"]["authorization"] == "Bearer x"
    assert record["body"]["messages"][0]["content"] == "be brief"
    assert record["started_at"] <= record["ended_at"]


def test_directive_is_read_from_last_user_message_parts(mock: MockServer) -> None:
    messages = [
        {"role": "user", "content": "#mock chunks=1"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": [{"type": "text", "text": "look #mock chunks=2"}]},
    ]
    body = {"model": "m2", "messages": messages}
    answer = mock.http.post("/v1/chat/completions", json=body).json()
    assert answer["model"] == "m2"
    assert answer["choices"][0]["message"]["content"] == "w0 w1 "
    assert mock.records()[-1]["text"] == "look #mock chunks=2"


def test_chat_stream_without_include_usage(mock: MockServer) -> None:
    chunks = list(
        mock.sdk.chat.completions.create(
            model="mock-model",
            messages=[{"role": "user", "content": "#mock chunks=3"}],
            stream=True,
        )
    )
    assert [c.object for c in chunks] == ["chat.completion.chunk"] * 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "w0 w1 w2 "
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_with_include_usage(mock: MockServer) -> None:
    chunks = list(
        mock.sdk.chat.completions.create(
            model="mock-model",
            messages=[{"role": "user", "content": "two words #mock chunks=2"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *answer, last = chunks
    assert answer[-1].choices[0].finish_reason == "stop"
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (4, 2)
    assert last.usage.total_tokens == 6


def test_chat_stream_wire_format(mock: MockServer) -> None:
    response = mock.chat("#mock chunks=2", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    *events, done = sse_data(response.content)
    assert done == b"[DONE]"
    choices = [orjson.loads(event)["choices"][0] for event in events]
    assert choices == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "w0 "},
            "logprobs": None,
            "finish_reason": None,
        },
        {"index": 0, "delta": {"content": "w1 "}, "logprobs": None, "finish_reason": None},
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"},
    ]
    assert mock.records()[-1]["outcome"] == "completed"


def test_latency_and_ttft_delay_the_answer(mock: MockServer) -> None:
    began = time.monotonic()
    assert mock.chat("#mock latency_ms=150").status_code == 200
    assert time.monotonic() - began >= 0.15
    began = time.monotonic()
    with mock.stream_chat("#mock ttft_ms=300", stream=True) as response:
        assert response.status_code == 200  # the headers went out before the wait
        response.read()
    # Only a lower bound: how soon the headers arrive depends on the machine's load (a bound
    # on that flaked on a busy CI machine).
    assert time.monotonic() - began >= 0.3


def test_reasoning_fields(mock: MockServer) -> None:
    text = "#mock chunks=2 reasoning=1 reasoning_content=1"
    message = mock.chat(text).json()["choices"][0]["message"]
    assert message["content"] == "w0 w1 "
    assert message["reasoning"] == "r0 r1 "
    assert message["reasoning_content"] == "g0 g1 "
    *events, _done = sse_data(mock.chat(text, stream=True).content)
    deltas = [orjson.loads(event)["choices"][0]["delta"] for event in events]
    assert deltas[0] == {
        "role": "assistant",
        "reasoning": "r0 ",
        "reasoning_content": "g0 ",
        "content": "w0 ",
    }
    assert deltas[1] == {"reasoning": "r1 ", "reasoning_content": "g1 ", "content": "w1 "}


def test_tool_call_stream_and_non_stream(mock: MockServer) -> None:
    chunks = list(
        mock.sdk.chat.completions.create(
            model="mock-model",
            messages=[{"role": "user", "content": "weather? #mock tools=1"}],
            stream=True,
        )
    )
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert len(calls) == 4
    assert calls[0][0].id == "call_mock"
    assert calls[0][0].type == "function"
    assert calls[0][0].function is not None
    assert calls[0][0].function.name == "get_weather"
    assert calls[0][0].function.arguments == ""
    arguments = "".join(call[0].function.arguments or "" for call in calls if call[0].function)
    assert arguments == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    message = mock.chat("#mock tools=1").json()["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_mock",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }


# Legacy completions, embeddings, models -------------------------------------------------


def test_completions_non_stream_and_stream(mock: MockServer) -> None:
    completion = mock.sdk.completions.create(model="mock-model", prompt="say #mock chunks=2")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "w0 w1 "
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 2)

    chunks = list(
        mock.sdk.completions.create(
            model="mock-model",
            prompt=["say #mock chunks=3"],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *answer, usage_chunk = chunks
    assert "".join(c.choices[0].text for c in answer) == "w0 w1 w2 "
    assert answer[-1].choices[0].finish_reason == "stop"
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == 3
    assert mock.records()[-1]["path"] == "/v1/completions"


def test_embeddings_are_deterministic_floats_or_base64(mock: MockServer) -> None:
    result = mock.sdk.embeddings.create(model="mock-embedding", input=["alpha beta", "gamma"])
    vectors = [item.embedding for item in result.data]
    assert [len(vector) for vector in vectors] == [8, 8]
    assert vectors[0] != vectors[1]
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (3, 3)

    body = {"model": "mock-embedding", "input": "alpha beta", "encoding_format": "float"}
    floats = mock.http.post("/v1/embeddings", json=body).json()["data"][0]["embedding"]
    assert floats == vectors[0]
    body["encoding_format"] = "base64"
    encoded = mock.http.post("/v1/embeddings", json=body).json()["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == floats


def test_models_and_health(mock: MockServer) -> None:
    assert "mock-model" in [model.id for model in mock.sdk.models.list()]
    assert mock.http.get("/v1/models/anything").json()["id"] == "anything"
    assert mock.http.get("/health").json() == {"status": "ok"}


def test_body_that_is_not_a_json_object_is_a_400(mock: MockServer) -> None:
    response = mock.http.post("/v1/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


# Faults ---------------------------------------------------------------------------------


def test_status_with_retry_after(mock: MockServer) -> None:
    response = mock.chat("#mock status=503 retry_after=7")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": {
            "message": "mock status 503",
            "type": "server_error",
            "code": "mock_error",
            "param": None,
        }
    }
    record = mock.records()[-1]
    assert (record["outcome"], record["status"]) == ("fault_status", 503)


def test_status_4xx_is_an_invalid_request_error(mock: MockServer) -> None:
    response = mock.chat("#mock status=429", stream=True)
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_fail_times_counts_per_directive_line(mock: MockServer) -> None:
    text = "#mock status=503 fail_times=1"
    assert mock.chat(text).status_code == 503
    assert mock.chat(text).status_code == 200
    assert mock.chat(text + " other=1").status_code == 503  # another line, its own count
    assert [r["outcome"] for r in mock.records()] == ["fault_status", "completed", "fault_status"]
    mock.http.delete("/_mock/requests")
    assert mock.chat(text).status_code == 503  # clearing also resets the counts


def test_empty_stream_has_no_event(mock: MockServer) -> None:
    response = mock.chat("#mock empty=1", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""
    assert mock.records()[-1]["outcome"] == "empty"


def test_disconnect_after_two_chunks(mock: MockServer) -> None:
    events: list[str] = []
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        mock.stream_chat("#mock chunks=5 disconnect_after=2", stream=True) as response,
    ):
        assert response.status_code == 200
        events.extend(line for line in response.iter_lines() if line)
    assert len(events) == 2
    assert [orjson.loads(e[6:])["choices"][0]["delta"]["content"] for e in events] == [
        "w0 ",
        "w1 ",
    ]
    record = mock.records()[-1]
    assert (record["outcome"], record["chunks_sent"]) == ("fault_disconnect", 2)


def test_disconnect_after_with_inter_ms_sends_chunks_one_by_one(mock: MockServer) -> None:
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        mock.stream_chat("#mock chunks=3 inter_ms=20 disconnect_after=1", stream=True) as r,
    ):
        r.read()
    record = mock.records()[-1]
    assert (record["outcome"], record["chunks_sent"]) == ("fault_disconnect", 1)


def test_reset_before_any_byte(mock: MockServer) -> None:
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        mock.chat("#mock reset_before=1", stream=True)
    record = mock.records()[-1]
    assert (record["outcome"], record["status"]) == ("fault_reset", None)


def test_reset_before_with_fail_times_then_succeeds(mock: MockServer) -> None:
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        mock.chat("#mock reset_before=1 fail_times=1")
    assert mock.chat("#mock reset_before=1 fail_times=1").status_code == 200


def test_error_event_after_one_chunk(mock: MockServer) -> None:
    response = mock.chat("#mock chunks=3 error_event_after=1", stream=True)
    assert response.status_code == 200
    first, error = sse_data(response.content)  # ends cleanly, no [DONE]
    assert orjson.loads(first)["choices"][0]["delta"]["content"] == "w0 "
    assert orjson.loads(error) == {
        "error": {"message": "mock upstream error", "type": "server_error", "code": "mock_error"}
    }
    record = mock.records()[-1]
    assert (record["outcome"], record["chunks_sent"]) == ("fault_error_event", 1)


def test_client_disconnect_is_recorded_at_once(mock: MockServer) -> None:
    text = "#mock inter_ms=500 chunks=20 tag=client-disconnect"
    with mock.stream_chat(text, stream=True) as response:
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line)
        assert first.startswith("data: ")
        mock.wait_record("tag=client-disconnect", lambda r: r["chunks_sent"] >= 1)
    closed_at = time.time()
    record = mock.wait_record("tag=client-disconnect", lambda r: r["outcome"] is not None)
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0
    assert record["chunks_sent"] < 20


# Observation ----------------------------------------------------------------------------


def test_requests_filter_and_clear(mock: MockServer) -> None:
    mock.chat("first apple")
    mock.chat("second pear")
    assert [r["text"] for r in mock.records("pear")] == ["second pear"]
    assert [r["seq"] for r in mock.records()] == sorted(r["seq"] for r in mock.records())
    assert mock.http.delete("/_mock/requests").status_code == 200
    assert mock.records() == []


def test_disconnect_after_delivers_every_chunk_before_the_close(mock: MockServer) -> None:
    # Far more than the socket buffers hold: the abort must wait for the kernel to take them.
    lines: list[str] = []
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        mock.stream_chat("#mock chunks=20000 disconnect_after=20000", stream=True) as r,
    ):
        lines.extend(line for line in r.iter_lines() if line)
    assert len(lines) == 20000
