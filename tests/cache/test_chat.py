"""The cache on /v1/chat/completions, /v1/completions and /v1/embeddings over real sockets: a
repeated request is answered without the upstream (JSON as stored, streams replayed as SSE
with `[DONE]`, the usage chunk only when asked), logged as a free hit."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from support import ALICE_KEY, SCRIBE_KEY, MockUpstream, RunningGateway

from .harness import HEADER, chat, sse_data


def test_non_stream_hit_returns_the_stored_answer_without_the_upstream(
    ch: httpx.Client, cgw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    first = ch.post("/v1/chat/completions", json=chat(f"{tag} #mock chunks=2"))
    second = ch.post("/v1/chat/completions", json=chat(f"{tag} #mock chunks=2"))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
    assert second.json() == first.json()  # the stored answer, its id included
    assert len(mock.requests(tag)) == 1
    miss = cgw.completion(first.headers["x-request-id"])
    hit = cgw.completion(second.headers["x-request-id"])
    assert (miss.cache_hit, miss.cache, miss.backend) == (False, "miss", "mock")
    assert miss.cost_usd > 0
    assert (hit.cache_hit, hit.cache, hit.cost_usd, hit.backend, hit.attempts) == (
        True,
        "hit",
        0.0,
        None,
        (),
    )
    assert hit.usage == miss.usage  # the tokens stay, for information
    assert hit.status_code == 200 and hit.error_type is None


def test_key_ignores_stream_options_user_and_key_order(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = {"messages": [{"role": "user", "content": tag}], "model": "m", "temperature": 0.5}
    assert ch.post("/v1/chat/completions", json=body).headers[HEADER] == "miss"
    reordered = {"temperature": 0.5, "model": "m", "user": "someone", **body}
    assert ch.post("/chat/completions", json=reordered).headers[HEADER] == "hit"
    changed = {**body, "temperature": 0.6}
    assert ch.post("/v1/chat/completions", json=changed).headers[HEADER] == "miss"
    assert len(mock.requests(tag)) == 2


def test_stream_hit_replays_chunks_and_done(ch: httpx.Client, mock: MockUpstream, tag: str) -> None:
    body = chat(f"{tag} #mock chunks=3", stream=True)
    first = ch.post("/v1/chat/completions", json=body)
    second = ch.post("/v1/chat/completions", json=body)
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
    assert second.headers["content-type"] == "text/event-stream"
    assert second.text == first.text
    data = sse_data(second.text)
    assert data[-1] == "[DONE]"
    text = "".join(
        c["delta"].get("content") or "" for d in data[:-1] for c in json.loads(d)["choices"]
    )
    assert text == "w0 w1 w2 "
    assert not any("usage" in json.loads(d) and json.loads(d)["usage"] for d in data[:-1])
    assert len(mock.requests(tag)) == 1


@pytest.mark.parametrize("first_asks", [True, False])
def test_usage_chunk_only_when_the_client_asks(
    ch: httpx.Client, cgw: RunningGateway, tag: str, first_asks: bool
) -> None:
    """Whichever client stored the stream, a hit sends the usage chunk exactly when asked."""
    body = chat(f"{tag} #mock chunks=2", stream=True)
    usage = {"stream_options": {"include_usage": True}}
    first = ch.post("/v1/chat/completions", json={**body, **(usage if first_asks else {})})
    asked = ch.post("/v1/chat/completions", json={**body, **usage})
    silent = ch.post("/v1/chat/completions", json=body)
    assert [r.headers[HEADER] for r in (first, asked, silent)] == ["miss", "hit", "hit"]
    asked_data, silent_data = sse_data(asked.text), sse_data(silent.text)
    last = json.loads(asked_data[-2])
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 2
    assert last["id"] == json.loads(asked_data[0])["id"]
    assert asked_data[-1] == silent_data[-1] == "[DONE]"
    assert silent_data == [*asked_data[:-2], "[DONE]"]
    hit = cgw.completion(silent.headers["x-request-id"])
    assert (hit.usage.completion_tokens, hit.cost_usd, hit.stream) == (2, 0.0, True)


def test_stream_and_non_stream_share_one_entry(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=2")
    assert ch.post("/v1/chat/completions", json=body).headers[HEADER] == "miss"
    streamed = ch.post("/v1/chat/completions", json={**body, "stream": True})
    assert streamed.headers[HEADER] == "hit"  # served from the JSON answer (test_across_chat)
    assert ch.post("/v1/chat/completions", json=body).headers[HEADER] == "hit"
    assert len(mock.requests(tag)) == 1


def test_openai_sdk_hits_stream_and_not(cgw: RunningGateway, mock: MockUpstream, tag: str) -> None:
    client = openai.OpenAI(base_url=cgw.url + "/v1", api_key=ALICE_KEY, max_retries=0)
    messages = [{"role": "user", "content": f"{tag} #mock chunks=3"}]
    answers = []
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="m", messages=messages)
        answers.append((raw.headers[HEADER], raw.parse().choices[0].message.content))
    assert answers == [("miss", "w0 w1 w2 "), ("hit", "w0 w1 w2 ")]
    texts = []
    for _ in range(2):
        stream = client.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert texts == ["w0 w1 w2 ", "w0 w1 w2 "]
    assert len(mock.requests(tag)) == 1  # the streams are served from the JSON answer


def test_completions_and_embeddings_hit(ch: httpx.Client, mock: MockUpstream, tag: str) -> None:
    for path, body in (
        ("/v1/completions", {"model": "m", "prompt": f"{tag}c #mock chunks=2"}),
        ("/v1/completions", {"model": "m", "prompt": f"{tag}s #mock chunks=2", "stream": True}),
        ("/v1/embeddings", {"model": "m", "input": f"{tag}e"}),
    ):
        first, second = ch.post(path, json=body), ch.post(path, json=body)
        assert (first.status_code, second.status_code) == (200, 200), second.text
        assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
        assert second.content == first.content
    assert len(mock.requests(tag)) == 3


def test_detail_logged_hit_keeps_its_bodies(cgw: RunningGateway, tag: str) -> None:
    with httpx.Client(
        base_url=cgw.url, headers={"authorization": f"Bearer {SCRIBE_KEY}"}, timeout=30
    ) as scribe:
        body = chat(f"{tag} #mock chunks=2", stream=True)
        scribe.post("/v1/chat/completions", json=body)
        hit = scribe.post("/v1/chat/completions", json=body)
        converted = scribe.post("/v1/chat/completions", json={**body, "stream": False})
    assert hit.headers[HEADER] == converted.headers[HEADER] == "hit"
    row = cgw.completion(hit.headers["x-request-id"])
    assert row.detail_logged and tag in (row.request_body or "")
    assert row.response_body == hit.text
    assert cgw.completion(converted.headers["x-request-id"]).response_body == converted.text


def test_cache_off_sends_no_header(http: httpx.Client, tag: str) -> None:
    response = http.post("/v1/chat/completions", json=chat(tag))
    assert response.status_code == 200 and HEADER not in response.headers
