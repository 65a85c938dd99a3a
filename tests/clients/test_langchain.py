"""LangChain's `ChatOpenAI` against the gateway over real sockets: answers, usage, and every
failure reaching it as the openai exception it already catches, never as a short answer."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator

import openai
import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI

from support import ALICE_KEY, MockUpstream, RunningGateway


@pytest.fixture(autouse=True)
def no_langsmith(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's LangSmith settings stay out: tracing would post every run to
    api.smith.langchain.com, and `LANGSMITH_GATEWAY` would send requests past the gateway."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_GATEWAY"):
        monkeypatch.delenv(name, raising=False)


def chat_model(gateway: RunningGateway, model: str = "m", **options: object) -> ChatOpenAI:
    """ChatOpenAI as a user configures it for the gateway; its own retries off, so each test
    sees exactly what the gateway answered."""
    defaults: dict[str, object] = {"api_key": ALICE_KEY, "max_retries": 0, "timeout": 20}
    return ChatOpenAI(model=model, base_url=gateway.url + "/v1", **{**defaults, **options})


def drain(chunks: Iterator[AIMessageChunk], into: list[AIMessageChunk]) -> None:
    """Keeps every chunk as it arrives, so a test sees what came before an exception."""
    for chunk in chunks:
        into.append(chunk)


def test_invoke_returns_the_answer_and_its_usage(gateway: RunningGateway, tag: str) -> None:
    model = chat_model(gateway, include_response_headers=True)
    answer = model.invoke(f"{tag} #mock chunks=4")
    assert answer.content == "w0 w1 w2 w3 "
    row = gateway.completion(answer.response_metadata["headers"]["x-request-id"])
    assert row.usage is not None and row.usage.completion_tokens == 4
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == row.usage.prompt_tokens > 0
    assert answer.usage_metadata["output_tokens"] == 4
    assert answer.usage_metadata["total_tokens"] == row.usage.total_tokens
    assert answer.response_metadata["finish_reason"] == "stop"


def test_stream_yields_the_whole_answer_in_pieces(gateway: RunningGateway, tag: str) -> None:
    chunks = list(chat_model(gateway).stream(f"{tag} #mock chunks=5"))
    texts = [chunk.content for chunk in chunks if chunk.content]
    assert texts == ["w0 ", "w1 ", "w2 ", "w3 ", "w4 "]
    whole = functools.reduce(operator.add, chunks)
    assert whole.content == "w0 w1 w2 w3 w4 "
    assert whole.response_metadata["finish_reason"] == "stop"
    # Not asked for: the gateway still gets usage from the upstream (SPEC 4.6) but keeps it.
    assert whole.usage_metadata is None


def test_stream_usage_gets_the_usage_chunk(gateway: RunningGateway, tag: str) -> None:
    chunks = list(chat_model(gateway, stream_usage=True).stream(f"{tag} #mock chunks=3"))
    whole = functools.reduce(operator.add, chunks)
    assert whole.content == "w0 w1 w2 "
    assert whole.usage_metadata is not None
    assert whole.usage_metadata["output_tokens"] == 3
    assert whole.usage_metadata["input_tokens"] > 0
    assert whole.usage_metadata["total_tokens"] == whole.usage_metadata["input_tokens"] + 3


@pytest.mark.parametrize(
    ("model", "directive", "code", "outcome", "text"),
    [
        ("noretry", "chunks=6 disconnect_after=3", "upstream_disconnected", "fault_disconnect", 3),
        (
            "noretry",
            "chunks=6 error_event_after=3",
            "upstream_disconnected",
            "fault_error_event",
            3,
        ),
        ("tight", "chunks=3 inter_ms=3000", "stream_idle_timeout", None, 1),
    ],
    ids=["disconnect", "error-event", "idle-timeout"],
)
def test_a_stream_broken_mid_way_raises_after_the_text_so_far(
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
    model: str,
    directive: str,
    code: str,
    outcome: str | None,
    text: int,
) -> None:
    seen: list[AIMessageChunk] = []
    with pytest.raises(openai.APIError) as raised:
        drain(chat_model(gateway, model=model).stream(f"{tag} #mock {directive}"), seen)
    # The SPEC 4.4 error event, raised by the openai SDK and passed on by LangChain as is.
    assert type(raised.value) is openai.APIError
    assert raised.value.body == {
        "message": raised.value.message,
        "type": "upstream_error",
        "code": code,
    }
    assert f"backend '{model}'" in str(raised.value).lower()
    assert "".join(str(chunk.content) for chunk in seen) == "".join(f"w{i} " for i in range(text))
    if outcome:
        assert mock.request(tag)["outcome"] == outcome


@pytest.mark.parametrize(
    ("status", "expected", "langchain_kind", "gateway_status"),
    [
        (429, openai.RateLimitError, ModelRateLimitError, 429),
        (500, openai.InternalServerError, ModelAPIError, 502),
    ],
)
@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "invoke"])
def test_an_upstream_error_before_the_answer_raises_the_matching_openai_error(
    gateway: RunningGateway,
    tag: str,
    status: int,
    expected: type[openai.APIStatusError],
    langchain_kind: type[Exception],
    gateway_status: int,
    streaming: bool,
) -> None:
    model = chat_model(gateway, model="noretry")
    prompt = f"{tag} #mock status={status}"
    with pytest.raises(expected) as raised:
        if streaming:
            drain(model.stream(prompt), [])
        else:
            model.invoke(prompt)
    assert raised.value.status_code == gateway_status
    # LangChain's own classification rides along.
    assert isinstance(raised.value, langchain_kind)
    row = gateway.completion(raised.value.response.headers["x-request-id"])
    assert (row.status_code, len(row.attempts)) == (gateway_status, 1)


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "invoke"])
def test_a_wrong_key_raises_authentication_error(
    gateway: RunningGateway, mock: MockUpstream, tag: str, streaming: bool
) -> None:
    model = chat_model(gateway, api_key="sk-not-a-key")
    with pytest.raises(openai.AuthenticationError) as raised:
        if streaming:
            drain(model.stream(f"{tag} hello"), [])
        else:
            model.invoke(f"{tag} hello")
    assert isinstance(raised.value, ModelAuthenticationError)
    assert raised.value.status_code == 401
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "invalid_api_key"
    assert "sk-not-a-key" not in str(raised.value)
    assert mock.requests(tag) == []
