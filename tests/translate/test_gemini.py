"""translate/gemini.py against golden fixtures (tests/translate/golden/gemini/*.in.json → the
matching .out.json). Regenerate after a deliberate change with SLUICEGATE_GOLDEN=update and
review the diff."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sluicegate.errors import InvalidRequest
from sluicegate.translate.gemini import (
    StreamTranslator,
    finish_reason,
    request_to_gemini,
    response_to_chat,
)

GOLDEN = Path(__file__).parent / "golden" / "gemini"


def _ids() -> Any:
    counter = itertools.count()
    return lambda: f"call_{next(counter)}"


def _check(name: str, produced: Any) -> None:
    out = GOLDEN / f"{name}.out.json"
    if os.environ.get("SLUICEGATE_GOLDEN") == "update":
        out.write_text(json.dumps(produced, indent=2, ensure_ascii=False) + "\n")
    assert produced == json.loads(out.read_text())


def _load(name: str) -> Any:
    return json.loads((GOLDEN / f"{name}.in.json").read_text())


def test_request_full() -> None:
    _check("request_full", request_to_gemini(_load("request_full")))


@pytest.mark.parametrize("name", ["response_text", "response_tools", "response_blocked"])
def test_response(name: str) -> None:
    chat = response_to_chat(_load(name), "asked", id_="chatcmpl-x", created=1, new_id=_ids())
    _check(name, chat)


@pytest.mark.parametrize("name", ["stream_tools", "stream_safety"])
def test_stream(name: str) -> None:
    translator = StreamTranslator("asked", id_="chatcmpl-s", created=1, new_id=_ids())
    chunks = [translator.feed(event) for event in _load(name)]
    assert translator.finished
    _check(name, {"chunks": chunks, "usage_chunk": translator.usage_chunk()})


def test_stream_is_unfinished_until_every_candidate_has_a_finish_reason() -> None:
    translator = StreamTranslator("m", id_="c", created=1)
    assert not translator.finished  # no event yet
    part = {"content": {"parts": [{"text": "a"}]}}
    translator.feed({"candidates": [{**part, "index": 0}, {**part, "index": 1}]})
    translator.feed({"candidates": [{**part, "index": 0, "finishReason": "STOP"}]})
    assert not translator.finished
    translator.feed({"candidates": [{**part, "index": 1, "finishReason": "MAX_TOKENS"}]})
    assert translator.finished


def test_blocked_prompt_in_a_stream_finishes_it() -> None:
    translator = StreamTranslator("m", id_="c", created=1)
    chunk = translator.feed({"promptFeedback": {"blockReason": "OTHER"}})
    assert chunk is not None
    assert chunk["choices"] == [
        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": "content_filter"}
    ]
    assert translator.finished


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        (None, False, None),
    ],
)
def test_finish_reasons(reason: str | None, calls: bool, expected: str | None) -> None:
    assert finish_reason(reason, calls) == expected


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]}, "content[0]"),
        (
            {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "tool_call_id",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "x"}]}, "tools[0]"),
        ({"messages": [], "reasoning_effort": "huge"}, "reasoning_effort"),
        ({"messages": [], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}],
                    }
                ]
            },
            "arguments",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x"}]}
                ]
            },
            "content[0]",
        ),
    ],
)
def test_untranslatable_requests_name_their_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request_to_gemini(body)
    assert caught.value.param is not None and caught.value.param.endswith(param)


def test_tool_result_that_is_not_an_object_is_wrapped() -> None:
    body = {
        "messages": [
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "[1, 2]"},
        ]
    }
    contents = request_to_gemini(body)["contents"]
    assert contents[1]["parts"][0]["functionResponse"] == {
        "name": "f",
        "response": {"result": "[1, 2]"},
    }
    assert contents[0]["parts"][0]["functionCall"] == {"name": "f", "args": {}}
