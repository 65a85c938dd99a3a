"""SPEC 4.9 on /v1/messages and /v1/responses: a stream the gateway translates from a chat
target is continued like a chat stream, in the front door's own event shapes (the Anthropic
SDK over a translated stream: test_messages.py)."""

from __future__ import annotations

import httpx
import openai

from support import RunningGateway

from .helpers import claude_stream, responses_stream, words


def test_messages_raw_events_open_one_message_and_one_block(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    body = {
        "model": "resumable",
        "max_tokens": 100,
        "stream": True,
        "messages": [
            {
                "role": "user",
                "content": f"{tag} #mock chunks=5 disconnect_after=1 fault_model=rep-a",
            }
        ],
    }
    with http.stream("POST", "/v1/messages", json=body) as response:
        raw = response.read().decode()
        request_id = response.headers["x-request-id"]
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names.count("message_start") == 1
    assert names.count("content_block_start") == 1
    assert names[-1] == "message_stop" and "error" not in names
    assert gateway.completion(request_id).resumed


def test_responses_stream_is_continued(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=4 fault_model=rep-a"
    events, _ = responses_stream(client, gateway, "resumable", text)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == words(0, 6)
    assert [e.type for e in events].count("response.created") == 1
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == words(0, 6)


def test_translated_messages_usage_is_summed_over_the_tries(
    gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=2 fault_model=rep-a"
    _, message, record = claude_stream(gateway, "resumable", text)
    assert message.usage.output_tokens == record.usage.completion_tokens == 2 + 4
    assert message.usage.input_tokens == record.usage.prompt_tokens


def test_translated_responses_usage_is_summed_over_the_tries(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=2 fault_model=rep-a"
    events, record = responses_stream(client, gateway, "resumable", text)
    final = events[-1]
    assert final.type == "response.completed" and final.response.usage is not None
    usage = final.response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        record.usage.prompt_tokens,
        record.usage.completion_tokens,
        record.usage.total_tokens,
    )
    assert usage.output_tokens == 2 + 4
