"""The mock as a continuing server: a last assistant message is continued word by word,
faults can be aimed at one upstream model, and a continuation can echo or wait first."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from support import MockUpstream

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def ask(text: str, prefix: str | None = None, model: str = "mock-model") -> dict[str, object]:
    messages: list[dict[str, str]] = [{"role": "user", "content": text}]
    if prefix is not None:
        messages.append({"role": "assistant", "content": prefix})
    return {"model": model, "messages": messages}


def contents(mock: MockUpstream, body: dict[str, object]) -> list[str]:
    with httpx.stream(
        "POST", mock.url + "/v1/chat/completions", json={**body, "stream": True}
    ) as r:
        raw = r.read().decode()
    out = []
    for block in raw.split("\n\n"):
        if block.startswith("data: {"):
            choice = json.loads(block[6:])["choices"][0]
            out.append(choice["delta"].get("content"))
    return out


def test_a_last_assistant_message_is_continued(mock: MockUpstream, tag: str) -> None:
    sdk = openai.OpenAI(base_url=mock.url + "/v1", api_key="k", max_retries=0)
    stream = sdk.chat.completions.create(
        **ask(f"{tag} #mock chunks=5", "w0 w1 "),  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    seen = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in seen if c.choices) == "w2 w3 w4 "
    usage = seen[-1].usage
    assert usage is not None and usage.completion_tokens == 3
    assert usage.prompt_tokens == 3 + 2  # the prefix counts as input


def test_nothing_left_to_continue_is_just_the_finish(mock: MockUpstream, tag: str) -> None:
    assert contents(mock, ask(f"{tag} #mock chunks=2", "w0 w1 ")) == [None]


def test_an_echo_repeats_the_prefix_split_mid_word(mock: MockUpstream, tag: str) -> None:
    pieces = contents(mock, ask(f"{tag} #mock chunks=3 echo=1", "w0 w1 "))
    assert pieces[:2] == ["w0 w", "1 "] and pieces[2:] == ["w2 ", None]


def test_fault_model_aims_faults_at_one_upstream_model(mock: MockUpstream, tag: str) -> None:
    directive = f"{tag} #mock chunks=4 disconnect_after=1 fault_model=rep-a"
    with pytest.raises(httpx.RemoteProtocolError):
        contents(mock, ask(directive, model="rep-a"))
    assert contents(mock, ask(directive, model="rep-b")) == ["w0 ", "w1 ", "w2 ", "w3 ", None]
    outcomes = {r["model"]: r["outcome"] for r in mock.requests(tag)}
    assert outcomes == {"rep-a": "fault_disconnect", "rep-b": "completed"}


def test_continue_ttft_ms_delays_only_a_continuation(mock: MockUpstream, tag: str) -> None:
    directive = f"{tag} #mock chunks=2 continue_ttft_ms=400"
    contents(mock, ask(directive))
    contents(mock, ask(directive, "w0 "))
    plain, continued = sorted(mock.requests(tag), key=lambda r: r["seq"])
    # A lower bound only: the mock slept at least that long before answering.
    assert continued["ended_at"] - continued["started_at"] >= 0.4
    assert plain["body"]["messages"][-1]["role"] == "user"


def test_anthropic_prefill_is_continued_and_trailing_whitespace_refused(
    mock: MockUpstream, tag: str
) -> None:
    sdk = anthropic.Anthropic(base_url=mock.url, api_key="k", max_retries=0)
    body = {**ask(f"{tag} #mock chunks=4", "w0 w1", model="claude-x"), "max_tokens": 50}
    with sdk.messages.stream(**body) as stream:  # type: ignore[arg-type]
        assert "".join(stream.text_stream) == " w2 w3 "
    with pytest.raises(anthropic.BadRequestError, match="trailing whitespace"):
        sdk.messages.create(**{**body, "messages": ask(tag, "w0 w1 ")["messages"]})  # type: ignore[arg-type]


def test_a_last_gemini_model_turn_is_continued(mock: MockUpstream, tag: str) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": f"{tag} #mock chunks=5"}]},
            {"role": "model", "parts": [{"text": "w0 w1"}]},
        ]
    }
    url = mock.url + "/v1beta/models/g:"
    headers = {"x-goog-api-key": "k"}
    whole = httpx.post(url + "generateContent", json=body, headers=headers).json()
    assert whole["candidates"][0]["content"]["parts"] == [{"text": " w2 w3 w4 "}]
    with httpx.stream(
        "POST", url + "streamGenerateContent?alt=sse", json=body, headers=headers
    ) as response:
        raw = response.read().decode()
    events = [json.loads(b[6:]) for b in raw.split("\r\n\r\n") if b.startswith("data: ")]
    texts = [p["text"] for e in events for p in e["candidates"][0]["content"]["parts"]]
    assert texts == [" w2 ", "w3 ", "w4 ", ""]  # then the finish event's empty part
