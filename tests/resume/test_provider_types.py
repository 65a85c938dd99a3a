"""SPEC 4.9 on chat streams served by `gemini` and `azure` backends: a stream one of them
breaks is continued on the next backend of the same type, through the chat path (the
provider translates the continuation, text so far last, into its own wire)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from support import MockUpstream, RunningGateway

from .helpers import tries, words


def gemini_prefill(body: dict[str, Any]) -> Any:
    return body["contents"][-1]


def azure_prefill(body: dict[str, Any]) -> Any:
    return body["messages"][-1]


@pytest.mark.parametrize(
    ("model", "backends", "path", "prefill", "expected"),
    [
        (
            "gem-first",
            ("gm1", "gm2"),
            "/v1beta/models/gem-b:streamGenerateContent",
            gemini_prefill,
            {"role": "model", "parts": [{"text": words(0, 3)}]},
        ),
        (
            "az-first",
            ("az1", "az2"),
            "/openai/deployments/az-b/chat/completions",
            azure_prefill,
            {"role": "assistant", "content": words(0, 3)},
        ),
    ],
)
def test_a_broken_stream_is_continued_on_the_next_backend_of_its_type(
    client: openai.OpenAI,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
    model: str,
    backends: tuple[str, str],
    path: str,
    prefill: Any,
    expected: dict[str, Any],
) -> None:
    first = model.replace("-first", "-a")
    text = f"{tag} #mock chunks=6 disconnect_after=3 fault_model={first}"
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], stream=True
    )
    chunks = list(stream)  # a normal end: no error event, no exception
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == words(0, 6)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["stop"] and finishes[-1] == "stop"
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].delta.role for c in chunks if c.choices].count("assistant") == 1
    record = gateway.completion(stream.response.headers["x-request-id"])
    assert (record.status_code, record.error_type, record.resumed) == (200, None, True)
    assert tries(record) == [(backends[0], "upstream_disconnected"), (backends[1], None)]
    broken, continuation = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (broken["model"], continuation["model"]) == (first, model.replace("-first", "-b"))
    assert continuation["path"] == path
    assert prefill(continuation["body"]) == expected
    # It answered only what follows (w3..w5): a whole answer again would be trimmed as an echo.
    assert continuation["chunks_sent"] == 3
