"""One entry for stream and non-stream requests on /v1/messages and /v1/responses (SPEC 12),
native and translated: a stored JSON answer serves a stream as the door's own events (read with
`client.messages.stream(...)` and `client.responses.stream(...)`, which must rebuild the stored
answer), a stored stream serves a non-stream request as the answer it spells."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest

from support import ALICE_KEY, MockUpstream, RunningGateway

from .harness import HEADER, sse_events

ANTHROPIC_HEADERS = {"x-api-key": ALICE_KEY, "anthropic-version": "2023-06-01"}
# (model, directive): native `claude` has thinking blocks with a signature and tool_use;
# translated `m` gets both from the chat mock (reasoning, tool_calls).
MESSAGE_CASES = [
    ("claude", "chunks=40"),
    ("claude", "chunks=3 reasoning=1"),
    ("claude", "tools=1 tool_calls=2"),
    ("m", "chunks=3 reasoning=1"),
    ("m", "tools=1"),
]


def ask(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]}


def message_stream(claude: anthropic.Anthropic, request: dict[str, Any]) -> tuple[str, Any, str]:
    """(x-sluicegate-cache, final Message, streamed text) of `messages.stream`."""
    with claude.messages.stream(**request) as stream:
        text = "".join(stream.text_stream)
        return stream.response.headers[HEADER], stream.get_final_message(), text


def same_message(one: Any, other: Any) -> None:
    fields = ("id", "model", "role", "content", "stop_reason", "stop_sequence", "usage")
    assert one.model_dump(include=set(fields)) == other.model_dump(include=set(fields))


@pytest.mark.parametrize(("model", "directive"), MESSAGE_CASES)
def test_stored_message_serves_a_stream(
    claude: anthropic.Anthropic,
    cgw: RunningGateway,
    mock: MockUpstream,
    tag: str,
    model: str,
    directive: str,
) -> None:
    request = ask(model, f"{tag} #mock {directive}")
    raw = claude.messages.with_raw_response.create(**request)
    stored = raw.parse()
    assert raw.headers[HEADER] == "miss"
    header, final, text = message_stream(claude, request)
    assert header == "hit"
    same_message(final, stored)
    assert text == "".join(b.text for b in stored.content if b.type == "text")
    kinds = {b.type for b in stored.content}
    assert kinds >= ({"tool_use"} if "tools" in directive else {"text"})
    assert ("thinking" in kinds) == ("reasoning" in directive)
    assert len(mock.requests(tag)) == 1
    hit = [c for c in cgw.completions if c.cache_hit and c.path == "/v1/messages"][-1]
    assert (hit.stream, hit.cost_usd, hit.backend) == (True, 0.0, None)


@pytest.mark.parametrize(("model", "directive"), MESSAGE_CASES)
def test_stored_message_stream_serves_json(
    claude: anthropic.Anthropic, mock: MockUpstream, tag: str, model: str, directive: str
) -> None:
    request = ask(model, f"{tag} #mock {directive}")
    header, final, _ = message_stream(claude, request)
    assert header == "miss"
    raw = claude.messages.with_raw_response.create(**request)
    assert raw.headers[HEADER] == "hit"
    answer = raw.parse()
    same_message(answer, final)
    assert answer.usage.output_tokens > 0 and answer.stop_reason is not None
    assert len(mock.requests(tag)) == 1


def test_converted_message_stream_on_the_wire(cgw: RunningGateway, tag: str) -> None:
    request = ask("claude", f"{tag} #mock chunks=3 reasoning=1")
    with httpx.Client(base_url=cgw.url, headers=ANTHROPIC_HEADERS, timeout=30) as client:
        stored = client.post("/v1/messages", json=request).json()
        hit = client.post("/v1/messages", json={**request, "stream": True})
    assert hit.headers[HEADER] == "hit"
    events = sse_events(hit.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    assert events[0][1]["message"]["content"] == []
    starts = [data["content_block"]["type"] for n, data in events if n == "content_block_start"]
    assert starts == [block["type"] for block in stored["content"]]
    deltas = {data["delta"]["type"] for name, data in events if name == "content_block_delta"}
    assert starts == ["thinking", "text"]
    assert deltas == {"thinking_delta", "signature_delta", "text_delta"}
    end = events[-2][1]
    assert end["delta"]["stop_reason"] == stored["stop_reason"] == "end_turn"
    assert end["usage"] == stored["usage"]


RESPONSE_CASES = [
    ("m", "chunks=40"),
    ("m", "tools=1"),
    ("native", "chunks=3"),
    ("native", "tools=1"),
    ("native", "chunks=40 cite=25"),  # url_citation annotations on the text
]


def plain(response: Any) -> dict[str, Any]:
    """A Response as JSON, without what the stream helper adds (`parsed`, `parsed_arguments`)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("parsed")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(response.model_dump(mode="json"))  # type: ignore[no-any-return]


def response_stream(sdk: openai.OpenAI, model: str, text: str) -> tuple[Any, list[Any]]:
    """The final Response of `responses.stream`, and its events."""
    with sdk.responses.stream(model=model, input=text) as stream:
        events = list(stream)
        return stream.get_final_response(), events


@pytest.mark.parametrize(("model", "directive"), RESPONSE_CASES)
def test_stored_response_serves_a_stream(
    sdk: openai.OpenAI, mock: MockUpstream, tag: str, model: str, directive: str
) -> None:
    text = f"{tag} #mock {directive}"
    raw = sdk.responses.with_raw_response.create(model=model, input=text)
    stored = raw.parse()
    assert raw.headers[HEADER] == "miss"
    final, events = response_stream(sdk, model, text)
    assert plain(final) == plain(stored)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == stored.output_text
    arguments = "".join(e.delta for e in events if e.type.endswith("arguments.delta"))
    calls = [item for item in stored.output if item.type == "function_call"]
    assert arguments == "".join(call.arguments for call in calls)
    assert bool(calls) == ("tools" in directive) and (deltas != "") != bool(calls)
    wire = sdk.responses.with_raw_response.create(model=model, input=text, stream=True)
    assert wire.headers[HEADER] == "hit"
    assert len(mock.requests(tag)) == 1


@pytest.mark.parametrize(("model", "directive"), RESPONSE_CASES)
def test_stored_response_stream_serves_json(
    sdk: openai.OpenAI, mock: MockUpstream, tag: str, model: str, directive: str
) -> None:
    text = f"{tag} #mock {directive}"
    final, _ = response_stream(sdk, model, text)
    raw = sdk.responses.with_raw_response.create(model=model, input=text)
    assert raw.headers[HEADER] == "hit"
    assert plain(raw.parse()) == plain(final)
    assert len(mock.requests(tag)) == 1


def test_converted_response_stream_sends_each_annotation_after_the_text_it_cites(
    sdk: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    """As OpenAI streams citations: `response.output_text.annotation.added` once the cited
    text has gone out, before `output_text.done` (the text is sent in 64-character pieces, so
    the 25 citations of w0..w24 come after the first and second pieces)."""
    text = f"{tag} #mock chunks=40 cite=25"
    raw = sdk.responses.with_raw_response.create(model="native", input=text)
    stored = raw.parse()
    assert raw.headers[HEADER] == "miss"
    message = stored.output[0]
    notes = [note.model_dump() for note in message.content[0].annotations]
    assert len(notes) == 25 and notes[24]["url"] == "https://example.com/w24"
    final, events = response_stream(sdk, "native", text)
    assert len(mock.requests(tag)) == 1  # a hit
    assert plain(final) == plain(stored)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [e.annotation.model_dump() for e in added] == notes
    assert [e.annotation_index for e in added] == list(range(25))
    assert {(e.item_id, e.output_index, e.content_index) for e in added} == {(message.id, 0, 0)}
    done = next(i for i, e in enumerate(events) if e.type == "response.output_text.done")
    deltas = [i for i, e in enumerate(events) if e.type == "response.output_text.delta"]
    assert len(deltas) == 3
    for event in added:
        at = events.index(event)
        last = max(i for i in deltas if i < at)
        before = "".join(events[i].delta for i in deltas if i < last)
        assert len(before) < event.annotation.end_index <= len(before) + len(events[last].delta)
        assert at < done


def test_converted_response_stream_on_the_wire(cgw: RunningGateway, tag: str) -> None:
    body = {"model": "native", "input": f"{tag} #mock chunks=3"}
    headers = {"authorization": f"Bearer {ALICE_KEY}"}
    with httpx.Client(base_url=cgw.url, headers=headers, timeout=30) as client:
        stored = client.post("/v1/responses", json=body).json()
        hit = client.post("/v1/responses", json={**body, "stream": True})
    assert hit.headers[HEADER] == "hit"
    events = sse_events(hit.text)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    names = [name for name, _ in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[0][1]["response"]["output"] == []
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[-1][1]["response"] == stored
