"""SPEC 4.9 on legacy /v1/completions: a broken stream is continued with the original prompt
plus the text so far as the new prompt (completions have no messages), same id, `[DONE]`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from support import MockUpstream, RunningGateway

from .helpers import outcome, tries, words


def stream(http: httpx.Client, body: dict[str, Any]) -> tuple[str, list[str]]:
    """The request id and the `data:` payloads of one stream."""
    with http.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    blocks = [b.removeprefix("data: ") for b in raw.split("\n\n") if b.startswith("data: ")]
    return response.headers["x-request-id"], blocks


def chunks(blocks: list[str]) -> list[dict[str, Any]]:
    return [json.loads(b) for b in blocks if b.startswith("{") and '"choices"' in b]


def text_of(parsed: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["text"] for c in parsed if c["choices"])


# The directive ends its line: the mock reads what the gateway appends after it as the text
# to continue (`mock/continuation.py`).
def prompt(tag: str, directive: str) -> str:
    return f"{tag} #mock {directive}\n"


@pytest.mark.parametrize(
    "fault", ["disconnect_after=1", "disconnect_after=4", "error_event_after=3"]
)
def test_broken_stream_is_continued_with_the_text_appended_to_the_prompt(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, fault: str
) -> None:
    body = {"model": "resumable", "prompt": prompt(tag, f"chunks=7 {fault} fault_model=rep-a")}
    request_id, blocks = stream(http, body)
    parsed = chunks(blocks)
    assert text_of(parsed) == words(0, 7)
    assert len({c["id"] for c in parsed}) == 1 and len({c["model"] for c in parsed}) == 1
    assert [c["choices"][0]["finish_reason"] for c in parsed if c["choices"]][-1] == "stop"
    assert blocks[-1] == "[DONE]" and not any('"error"' in b for b in blocks)
    sent = int(fault.rpartition("=")[2])
    first, second = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (first["model"], second["model"]) == ("rep-a", "rep-b")
    assert second["path"] == "/v1/completions"
    assert second["body"]["prompt"] == body["prompt"] + words(0, sent)
    record = gateway.completion(request_id)
    assert (record.error_type, record.resumed) == (None, True)
    assert tries(record) == [("r1", "upstream_disconnected"), ("r2", None)]


def test_openai_sdk_reads_one_answer_with_summed_usage(
    client: openai.OpenAI, gateway: RunningGateway, tag: str
) -> None:
    answer = client.completions.create(
        model="resumable",
        prompt=prompt(tag, "chunks=6 disconnect_after=2 fault_model=rep-a"),
        stream=True,
        stream_options={"include_usage": True},
    )
    seen = list(answer)
    assert "".join(c.choices[0].text for c in seen if c.choices) == words(0, 6)
    assert len({c.id for c in seen}) == 1
    usage = seen[-1].usage
    assert usage is not None and not seen[-1].choices
    record = gateway.completion(answer.response.headers["x-request-id"])
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        record.usage.prompt_tokens,
        record.usage.completion_tokens,
        record.usage.total_tokens,
    )
    assert record.usage.completion_tokens == 2 + 4  # the broken try's 2 chunks, then 4


def test_a_continuation_that_breaks_goes_on_then_one_error_event(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    directive = "chunks=12 disconnect_after=3 fault_model=rep-a,rep-b,rep-c"
    request_id, blocks = stream(http, {"model": "resumable", "prompt": prompt(tag, directive)})
    assert text_of(chunks(blocks)) == words(0, 9)
    errors = [b for b in blocks if b.startswith('{"error"')]
    assert len(errors) == 1 and blocks[-1] == errors[0] and "[DONE]" not in blocks
    assert len(mock.requests(tag)) == 3
    assert outcome(gateway.completion(request_id)) == ("upstream_disconnected", True, 3)


@pytest.mark.parametrize(
    ("extra", "as_array"),
    [
        ({"echo": True}, False),  # the prompt repeated in the answer
        ({"logprobs": 1}, False),
        ({}, True),  # a prompt array: nothing to append the text to
    ],
)
def test_not_resumed_then_spec_4_4_applies(
    http: httpx.Client, mock: MockUpstream, tag: str, extra: dict[str, Any], as_array: bool
) -> None:
    text = prompt(tag, "chunks=5 disconnect_after=2")
    body = {"model": "resumable", "prompt": [text] if as_array else text, **extra}
    _, blocks = stream(http, body)
    assert json.loads(blocks[-1])["error"]["code"] == "upstream_disconnected"
    assert len(mock.requests(tag)) == 1
