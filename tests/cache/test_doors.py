"""The cache on the Anthropic and Responses front doors, with the official SDKs: a repeated
request (stream or not, native or translated) is answered from the cache, the stream replayed
to its own last event (`message_stop`, `response.completed`), a stream of the same question
served from the stored JSON answer (test_across_doors.py has the details)."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from support import ALICE_KEY, MockUpstream, RunningGateway

from .harness import HEADER


@pytest.mark.parametrize("model", ["claude", "m"], ids=["native", "translated"])
def test_messages_hit_with_the_anthropic_sdk(
    claude: anthropic.Anthropic, cgw: RunningGateway, mock: MockUpstream, tag: str, model: str
) -> None:
    messages = [{"role": "user", "content": f"{tag} #mock chunks=2"}]
    seen = []
    for _ in range(2):
        raw = claude.messages.with_raw_response.create(
            model=model,
            max_tokens=50,
            messages=messages,  # type: ignore[arg-type]
        )
        message = raw.parse()
        seen.append((raw.headers[HEADER], message.id, message.content[0].text))  # type: ignore[union-attr]
    assert [s[0] for s in seen] == ["miss", "hit"]
    assert seen[0][1:] == seen[1][1:]
    texts = []
    for _ in range(2):
        with claude.messages.stream(
            model=model,
            max_tokens=50,
            messages=messages,  # type: ignore[arg-type]
        ) as stream:
            texts.append("".join(stream.text_stream))
            final = stream.get_final_message()
        assert final.stop_reason is not None
    assert texts[0] == texts[1] == seen[0][2]
    assert len(mock.requests(tag)) == 1
    hit = [c for c in cgw.completions if c.path == "/v1/messages" and c.cache_hit]
    assert hit and hit[-1].stream and hit[-1].cost_usd == 0.0


def test_messages_stream_hit_ends_with_message_stop(
    cgw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = {
        "model": "claude",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": f"{tag} #mock chunks=2"}],
    }
    headers = {"x-api-key": ALICE_KEY, "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=cgw.url, headers=headers, timeout=30) as client:
        first, second = (client.post("/v1/messages", json=body) for _ in range(2))
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
    assert second.text == first.text
    assert second.text.rstrip().split("\n")[-2] == "event: message_stop"
    assert len(mock.requests(tag)) == 1


def test_count_tokens_is_never_cached(cgw: RunningGateway) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
    headers = {"x-api-key": ALICE_KEY}
    for _ in range(2):
        response = httpx.post(
            cgw.url + "/v1/messages/count_tokens", json=body, headers=headers, timeout=10
        )
        assert (response.status_code, response.headers[HEADER]) == (200, "bypass")


def test_responses_hit_with_the_openai_sdk(
    cgw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    client = openai.OpenAI(base_url=cgw.url + "/v1", api_key=ALICE_KEY, max_retries=0)
    seen = []
    for _ in range(2):
        raw = client.responses.with_raw_response.create(model="m", input=f"{tag} #mock chunks=2")
        response = raw.parse()
        seen.append((raw.headers[HEADER], response.id, response.output_text))
    assert [s[0] for s in seen] == ["miss", "hit"] and seen[0][1:] == seen[1][1:]
    texts, kinds = [], []
    for _ in range(2):
        events = list(
            client.responses.create(model="m", input=f"{tag} #mock chunks=2", stream=True)
        )
        kinds.append(events[-1].type)
        texts.append("".join(e.delta for e in events if e.type == "response.output_text.delta"))
    assert kinds == ["response.completed", "response.completed"]
    assert texts[0] == texts[1] == seen[0][2]
    assert len(mock.requests(tag)) == 1
