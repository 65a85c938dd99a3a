"""One entry for stream and non-stream requests on /v1/chat/completions and /v1/completions
(SPEC 12): a stored JSON answer serves a stream as OpenAI's chunks (role, content in a few
pieces, tool calls, finish, the usage chunk only when asked, `[DONE]`), a stored stream serves
a non-stream request as the chat.completion it spells, read with the openai SDK; the stored
entry stays as it was, so a hit of its own kind is still byte for byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from sluicegate.cache.entry import Entry
from sluicegate.cache.memory import MemoryCacheStore
from sluicegate.proxy.cached import INLINE_CONVERT_BYTES
from support import MockUpstream, RunningGateway, wait_until

from .harness import HEADER, chat, sse_data

CHAT = "/v1/chat/completions"
INCLUDE_USAGE = {"stream_options": {"include_usage": True}}


def streamed(sdk: openai.OpenAI, **request: Any) -> tuple[httpx.Headers, list[Any]]:
    """(response headers, chunks) of a chat stream read with the SDK."""
    raw = sdk.chat.completions.with_raw_response.create(stream=True, **request)
    return raw.headers, list(raw.parse())


def accumulate(chunks: list[Any]) -> dict[str, Any]:
    """What a client assembles from chat chunks: text, reasoning, tool calls, finish, usage."""
    text, reasoning, calls, finish, usage = "", "", {}, None, None
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            reasoning += (delta.model_extra or {}).get("reasoning") or ""
            for call in delta.tool_calls or ():
                slot = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] = call.function.name or slot["name"]
                    slot["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    tools = [calls[i] for i in sorted(calls)]
    return {"text": text, "reasoning": reasoning, "tools": tools, "finish": finish, "usage": usage}


@pytest.mark.parametrize(
    "directive", ["chunks=40 reasoning=1", "tools=1"], ids=["text_reasoning", "tool_call"]
)
def test_stored_json_serves_a_stream(
    sdk: openai.OpenAI, cgw: RunningGateway, mock: MockUpstream, tag: str, directive: str
) -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": f"{tag} #mock {directive}"}]}
    raw = sdk.chat.completions.with_raw_response.create(**request)
    answer = raw.parse()
    assert raw.headers[HEADER] == "miss"
    headers, chunks = streamed(sdk, **request)
    assert headers[HEADER] == "hit"
    got = accumulate(chunks)
    assert (got["tools"] != [], got["reasoning"] != "") == (
        "tools" in directive,
        "reasoning" in directive,
    )
    message = answer.choices[0].message
    assert got["text"] == (message.content or "")
    assert got["reasoning"] == ((message.model_extra or {}).get("reasoning") or "")
    expected_tools = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}  # type: ignore[union-attr]
        for c in message.tool_calls or ()
    ]
    assert got["tools"] == expected_tools
    assert got["finish"] == answer.choices[0].finish_reason
    assert got["usage"] is None  # not asked
    assert {(c.id, c.created, c.model) for c in chunks} == {
        (answer.id, answer.created, answer.model)
    }
    asked_headers, asked = streamed(sdk, **request, **INCLUDE_USAGE)
    assert asked_headers[HEADER] == "hit"
    assert asked[-1].choices == [] and asked[-1].usage == answer.usage
    assert accumulate(asked)["text"] == got["text"]
    assert len(mock.requests(tag)) == 1
    hit = cgw.completion(headers["x-request-id"])
    assert (hit.cache_hit, hit.stream, hit.cost_usd, hit.backend) == (True, True, 0.0, None)
    assert hit.usage.completion_tokens == answer.usage.completion_tokens  # type: ignore[union-attr]


def test_converted_stream_is_openai_shaped_on_the_wire(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=40")
    stored = ch.post(CHAT, json=body).json()
    text = stored["choices"][0]["message"]["content"]
    hit = ch.post(CHAT, json={**body, "stream": True})
    assert (hit.headers[HEADER], hit.headers["content-type"]) == ("hit", "text/event-stream")
    data = sse_data(hit.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    pieces = [d["content"] for d in deltas[1:-1]]
    assert "".join(pieces) == text and 1 < len(pieces) < len(text) // 10  # a few, not per char
    assert (deltas[-1], chunks[-1]["choices"][0]["finish_reason"]) == ({}, "stop")
    assert len(mock.requests(tag)) == 1


@pytest.mark.parametrize(
    "directive", ["chunks=5 reasoning=1", "tools=1"], ids=["text_reasoning", "tool_call"]
)
@pytest.mark.parametrize("asked_usage", [False, True])
def test_stored_stream_serves_json(
    sdk: openai.OpenAI,
    cgw: RunningGateway,
    mock: MockUpstream,
    tag: str,
    directive: str,
    asked_usage: bool,
) -> None:
    """Whether or not the storing client asked for the usage chunk, the JSON has the usage."""
    request = {"model": "m", "messages": [{"role": "user", "content": f"{tag} #mock {directive}"}]}
    headers, chunks = streamed(sdk, **request, **(INCLUDE_USAGE if asked_usage else {}))
    assert headers[HEADER] == "miss"
    got = accumulate(chunks)
    assert (got["tools"] != [], got["reasoning"] != "") == (
        "tools" in directive,
        "reasoning" in directive,
    )
    raw = sdk.chat.completions.with_raw_response.create(**request)
    assert raw.headers[HEADER] == "hit"
    answer = raw.parse()
    assert answer.object == "chat.completion" and answer.id == chunks[0].id
    assert answer.created == chunks[0].created
    message = answer.choices[0].message
    assert (message.role, message.content or "") == ("assistant", got["text"])
    assert ((message.model_extra or {}).get("reasoning") or "") == got["reasoning"]
    tools = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}  # type: ignore[union-attr]
        for c in message.tool_calls or ()
    ]
    assert tools == got["tools"]
    assert answer.choices[0].finish_reason == got["finish"]
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    if asked_usage:
        assert answer.usage == got["usage"]
    assert len(mock.requests(tag)) == 1
    hit = cgw.completion(raw.headers["x-request-id"])
    assert (hit.cache_hit, hit.stream, hit.cost_usd) == (True, False, 0.0)


def test_a_converted_hit_leaves_the_entry_as_stored(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    """JSON stored, a stream served from it, then JSON again: the stored bytes; and the
    same the other way round."""
    body = chat(f"{tag}a #mock chunks=3")
    first = ch.post(CHAT, json=body)
    assert ch.post(CHAT, json={**body, "stream": True}).headers[HEADER] == "hit"
    again = ch.post(CHAT, json=body)
    assert (again.headers[HEADER], again.content) == ("hit", first.content)
    body = chat(f"{tag}b #mock chunks=3", stream=True)
    first = ch.post(CHAT, json=body)
    assert ch.post(CHAT, json={**body, "stream": False}).headers[HEADER] == "hit"
    again = ch.post(CHAT, json=body)
    assert (again.headers[HEADER], again.content) == ("hit", first.content)
    assert len(mock.requests(tag)) == 2


def test_completions_across_kinds(
    sdk: openai.OpenAI, ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    stored = sdk.completions.create(model="m", prompt=f"{tag}a #mock chunks=30")
    raw = sdk.completions.with_raw_response.create(
        model="m", prompt=f"{tag}a #mock chunks=30", stream=True, **INCLUDE_USAGE
    )
    chunks = list(raw.parse())
    assert raw.headers[HEADER] == "hit"
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == stored.choices[0].text and 1 < len(chunks) < len(text) // 10
    assert chunks[-2].choices[0].finish_reason == stored.choices[0].finish_reason
    assert chunks[-1].usage == stored.usage and chunks[-1].id == stored.id
    body = {"model": "m", "prompt": f"{tag}b #mock chunks=4", "stream": True}
    first = ch.post("/v1/completions", json=body)
    streamed_text = "".join(json.loads(d)["choices"][0]["text"] for d in sse_data(first.text)[:-1])
    raw_json = sdk.completions.with_raw_response.create(model="m", prompt=body["prompt"])
    answer = raw_json.parse()
    assert raw_json.headers[HEADER] == "hit"
    assert (answer.object, answer.choices[0].text) == ("text_completion", streamed_text)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens == 4
    assert len(mock.requests(tag)) == 2


def test_an_entry_that_cannot_be_converted_is_a_miss(
    cgw: RunningGateway, ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    """A stored JSON answer the converter cannot read: the stream is answered by the upstream
    (a miss) and replaces it; its own kind still gets the stored bytes until then."""
    body = chat(f"{tag} #mock chunks=2")
    first = ch.post(CHAT, json=body)
    store = cgw.app.state.cache.store
    assert isinstance(store, MemoryCacheStore)
    # Stored as the request ends, on the gateway's thread: maybe after the client has its
    # answer.
    key = wait_until(
        lambda: next(
            (k for k, (_, e) in list(store._entries.items()) if e.body == first.content), None
        )
    )
    store.put(key, Entry(False, b"[1, 2]"))  # JSON, but not an answer
    assert ch.post(CHAT, json=body).content == b"[1, 2]"
    streamed = ch.post(CHAT, json={**body, "stream": True})
    assert (streamed.status_code, streamed.headers[HEADER]) == (200, "miss")
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert len(mock.requests(tag)) == 2
    again = ch.post(CHAT, json=body)
    assert again.headers[HEADER] == "hit" and again.json()["choices"][0]["message"]["content"]


def test_a_large_stored_stream_serves_json(ch: httpx.Client, mock: MockUpstream, tag: str) -> None:
    """Over INLINE_CONVERT_BYTES the conversion runs in a worker thread: same answer."""
    body = chat(f"{tag} #mock chunks=12 pad=2000", stream=True)
    first = ch.post(CHAT, json=body)
    assert len(first.content) > INLINE_CONVERT_BYTES
    text = "".join(
        json.loads(d)["choices"][0]["delta"].get("content") or "" for d in sse_data(first.text)[:-1]
    )
    hit = ch.post(CHAT, json={**body, "stream": False})
    assert (hit.status_code, hit.headers[HEADER]) == (200, "hit")
    assert hit.json()["choices"][0]["message"]["content"] == text
    assert len(text) > 12 * 2000 and len(mock.requests(tag)) == 1
