"""translate.anthropic against golden fixtures (tests/translate/fixtures/anthropic_*.json: each
holds an input and the exact expected output), plus the refusals, one case each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sluicegate.errors import InvalidRequest
from sluicegate.translate.anthropic.common import chat_usage, error_type, messages_usage
from sluicegate.translate.anthropic.request import chat_to_messages, messages_to_chat
from sluicegate.translate.anthropic.response import chat_to_message, message_to_chat
from sluicegate.translate.anthropic.stream import ChunksToEvents, EventsToChunks

FIXTURES = Path(__file__).parent / "fixtures"


def golden(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"anthropic_{name}.json").read_text())
    return doc


def test_chat_request_to_messages() -> None:
    doc = golden("chat_request")
    assert chat_to_messages(doc["chat"], "claude-x") == doc["messages"]


def test_messages_request_to_chat() -> None:
    doc = golden("messages_request")
    assert messages_to_chat(doc["messages"], "gpt-x") == doc["chat"]


def test_message_to_chat_completion() -> None:
    doc = golden("message_to_chat")
    got = message_to_chat(doc["message"])
    assert isinstance(got.pop("created"), int)
    assert got == doc["chat"]


def test_chat_completion_to_message() -> None:
    doc = golden("chat_to_message")
    assert chat_to_message(doc["chat"]) == doc["message"]


def test_stream_events_to_chunks() -> None:
    doc = golden("events_to_chunks")
    translator = EventsToChunks()
    chunks = [chunk for event in doc["events"] for chunk in translator.feed(event)]
    for chunk in chunks:
        assert isinstance(chunk.pop("created"), int)
    assert chunks == doc["chunks"]
    assert translator.done


def test_stream_chunks_to_events() -> None:
    doc = golden("chunks_to_events")
    translator = ChunksToEvents(None)
    events = [event for chunk in doc["chunks"] for event in translator.feed(chunk)]
    assert [*events, *translator.finish()] == doc["events"]


def test_max_tokens_default_and_explicit() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert chat_to_messages(body, "c")["max_tokens"] == 4096
    assert chat_to_messages({**body, "max_tokens": 9}, "c")["max_tokens"] == 9
    assert (
        chat_to_messages({**body, "max_completion_tokens": 7, "max_tokens": 9}, "c")["max_tokens"]
        == 7
    )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools"),
    ],
)
def test_unmappable_chat_fields_are_refused(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat_to_messages({"messages": [{"role": "user", "content": "hi"}], **extra}, "c")
    assert caught.value.param == param


def test_server_tools_cannot_go_to_chat_backends() -> None:
    body = {"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with pytest.raises(InvalidRequest, match="runs only on Anthropic"):
        messages_to_chat(body, "gpt")


def test_usage_round_trip_keeps_cache_reads() -> None:
    anthropic = {"input_tokens": 3, "cache_read_input_tokens": 50, "output_tokens": 4}
    chat = chat_usage(anthropic)
    assert chat["prompt_tokens"] == 53 and chat["prompt_tokens_details"] == {"cached_tokens": 50}
    back = messages_usage(chat)
    assert (back["input_tokens"], back["cache_read_input_tokens"], back["output_tokens"]) == (
        3,
        50,
        4,
    )


def test_error_types_by_status() -> None:
    assert [error_type(s) for s in (400, 401, 403, 404, 413, 429, 500, 502, 504, 529, 418)] == [
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
        "invalid_request_error",
    ]
