"""SPEC 4.9 on /v1/messages and /v1/responses: a stream the gateway translates from a chat
target is continued like a chat stream, in the front door's own event shapes."""

from __future__ import annotations

import anthropic
import httpx
import openai

from support import ALICE_KEY, MockUpstream, RunningGateway


def words(end: int) -> str:
    return "".join(f"w{i} " for i in range(end))


def test_messages_stream_is_continued(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=ALICE_KEY, max_retries=0)
    text = f"{tag} #mock chunks=6 disconnect_after=3 fault_model=rep-a"
    with sdk.messages.stream(
        model="resumable", max_tokens=100, messages=[{"role": "user", "content": text}]
    ) as stream:
        assert "".join(stream.text_stream) == words(6)
        message = stream.get_final_message()
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    first, second = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (first["model"], second["model"]) == ("rep-a", "rep-b")
    assert second["body"]["messages"][-1] == {"role": "assistant", "content": words(3)}


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
    stream = client.responses.create(
        model="resumable",
        input=f"{tag} #mock chunks=6 disconnect_after=4 fault_model=rep-a",
        stream=True,
    )
    events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == words(6)
    assert [e.type for e in events].count("response.created") == 1
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == words(6)


def test_a_forwarded_messages_stream_is_not_resumed(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    """An anthropic target's own events go out untranslated: nothing to splice them with."""
    text = f"{tag} #mock chunks=5 disconnect_after=2 fault_model=claude-x"
    body = {"model": "claude-first", "max_tokens": 100, "stream": True}
    body["messages"] = [{"role": "user", "content": text}]
    with http.stream("POST", "/v1/messages", json=body) as response:
        raw = response.read().decode()
        request_id = response.headers["x-request-id"]
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[-1] == "error" and "message_stop" not in names
    assert len(mock.requests(tag)) == 1
    record = gateway.completion(request_id)
    assert (record.error_type, record.resumed) == ("upstream_disconnected", False)
