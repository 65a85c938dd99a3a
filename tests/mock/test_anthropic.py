"""The mock's Anthropic Messages side, driven by the official `anthropic` SDK and raw httpx."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from support import MockUpstream

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


@pytest.fixture
def sdk(mock: MockUpstream) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=mock.url, api_key="k", max_retries=0)
    yield client
    client.close()


def ask(text: str, **extra: object) -> dict[str, object]:
    return {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def test_message_with_thinking_and_usage(sdk: anthropic.Anthropic, tag: str) -> None:
    message = sdk.messages.create(**ask(f"{tag} #mock chunks=2 reasoning=1"))  # type: ignore[arg-type]
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[1].text == "w0 w1 "  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)


def test_stream_event_order_and_parallel_tools(
    sdk: anthropic.Anthropic, mock: MockUpstream, tag: str
) -> None:
    with sdk.messages.stream(**ask(f"{tag} #mock tools=1 tool_calls=2")) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert [b.input for b in final.content] == [{"city": "Paris"}, {"city": "Paris"}]  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert mock.request(tag)["chunks_sent"] == 8


def test_raw_stream_is_anthropic_sse(mock: MockUpstream, tag: str) -> None:
    body = ask(f"{tag} #mock chunks=1", stream=True)
    with httpx.stream("POST", mock.url + "/v1/messages", json=body, headers=HEADERS) as response:
        raw = response.read().decode()
        assert response.headers["request-id"].startswith("req_")
    names = [block.split("\n")[0] for block in raw.split("\n\n") if block]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]


def test_max_tokens_cuts_the_answer(sdk: anthropic.Anthropic, tag: str) -> None:
    message = sdk.messages.create(**{**ask(f"{tag} #mock chunks=5"), "max_tokens": 2})  # type: ignore[arg-type]
    assert message.stop_reason == "max_tokens"


def test_status_is_an_anthropic_error(sdk: anthropic.Anthropic, tag: str) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.messages.create(**ask(f"{tag} #mock status=529"))  # type: ignore[arg-type]
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "mock status 529"},
    }


def test_error_event_mid_stream_raises_in_the_sdk(sdk: anthropic.Anthropic, tag: str) -> None:
    seen = []
    request = ask(f"{tag} #mock chunks=4 error_event_after=2")
    with (
        pytest.raises(anthropic.APIStatusError, match="mock upstream error"),
        sdk.messages.stream(**request) as stream,  # type: ignore[arg-type]
    ):
        seen.extend(stream.text_stream)
    assert seen == ["w0 ", "w1 "]


def test_requests_anthropic_refuses(mock: MockUpstream) -> None:
    url = mock.url + "/v1/messages"
    no_key = httpx.post(url, json=ask("x"), headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"
    no_version = httpx.post(url, json=ask("x"), headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    body = ask("x")
    del body["max_tokens"]
    no_max = httpx.post(url, json=body, headers=HEADERS)
    assert no_max.status_code == 400 and "max_tokens" in no_max.json()["error"]["message"]


def test_count_tokens(sdk: anthropic.Anthropic) -> None:
    count = sdk.messages.count_tokens(
        model="claude-x", messages=[{"role": "user", "content": "a b c"}]
    )
    assert count.input_tokens == 3
