"""Resume with output guardrails: the continuation is scanned by the same window as the stream
it continues, so a match split across the break is caught and ends the stream with the
content_filter error event; text that matches nothing is stitched as usual."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sluicegate.config.content import GuardrailConfig
from support import ALICE_KEY, MockUpstream, RunningGateway

from .conftest import resume_config
from .test_chat import assert_one_answer, chat, words


@pytest.fixture(scope="module")
def guarded(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder: Path = tmp_path_factory.mktemp("resume-guard")
    config = resume_config(mock.url, f"sqlite+aiosqlite:///{folder}/gw.db")
    rule = GuardrailConfig(name="w3w4", type="regex", pattern="w3 w4", on="output")
    running = RunningGateway(config.model_copy(update={"guardrails": [rule]}))
    with httpx.Client(
        base_url=running.url, headers={"authorization": f"Bearer {ALICE_KEY}"}, timeout=30
    ) as client:
        yield client
    running.stop()


def blocks_of(client: httpx.Client, text: str) -> list[str]:
    body = {**chat("resumable", text), "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    return [b.removeprefix("data: ") for b in raw.split("\n\n") if b and not b.startswith(":")]


def test_a_match_split_across_the_break_is_blocked(guarded: httpx.Client, tag: str) -> None:
    # "w0 w1 w2 w3 " from the first target, then the continuation starts with "w4 ".
    blocks = blocks_of(guarded, f"{tag} #mock chunks=8 disconnect_after=4 fault_model=rep-a")
    assert blocks[-1] != "[DONE]"
    error = json.loads(blocks[-1])["error"]
    assert error["code"] == "content_filter"
    sent = "".join(
        json.loads(b)["choices"][0]["delta"].get("content") or ""
        for b in blocks[:-1]
        if '"choices"' in b and json.loads(b)["choices"]
    )
    assert "w4" not in sent and sent == words(0, 4)


def test_a_continuation_that_matches_nothing_is_stitched(guarded: httpx.Client, tag: str) -> None:
    blocks = blocks_of(guarded, f"{tag} #mock chunks=3 disconnect_after=1 fault_model=rep-a")
    assert_one_answer(blocks, words(0, 3))


def test_a_native_responses_stream_continued_through_chat_is_still_scanned(
    guarded: httpx.Client, tag: str
) -> None:
    # "w0 w1 w2 w3 " as Responses events, then the chat continuation starts with "w4 ".
    text = f"{tag} #mock chunks=8 disconnect_after=4 fault_model=resp-a"
    body = {"model": "native-first", "input": text, "stream": True}
    with guarded.stream("POST", "/v1/responses", json=body) as response:
        raw = response.read().decode()
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "response.failed"
    assert "content_filter" in events[-1]["response"]["error"]["message"]
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == words(0, 4)
