"""translate.responses: Responses request → chat, chat.completion → Response, chat chunks →
Responses events; pure, no server."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import Response

from sluicegate.errors import InvalidRequest
from sluicegate.translate.responses.request import responses_to_chat
from sluicegate.translate.responses.response import chat_to_response
from sluicegate.translate.responses.stream import ChunksToEvents


def test_request_maps_fields() -> None:
    chat = responses_to_chat(
        {
            "model": "m",
            "instructions": "sys",
            "input": [
                {"role": "developer", "content": "dev"},
                {"role": "user", "content": "q"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "a"}],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
            ],
            "max_output_tokens": 9,
            "top_p": 0.5,
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_object"}},
            "reasoning": {"effort": "high"},
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
            "tool_choice": "required",
            "store": True,
        },
        "target",
    )
    assert chat["model"] == "target"
    assert chat["messages"][:3] == [
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "dev"},
        {"role": "user", "content": "q"},
    ]
    assistant = chat["messages"][3]
    assert assistant["content"] == "a"
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert chat["messages"][4] == {"role": "tool", "tool_call_id": "c1", "content": "one"}
    assert len(chat["messages"]) == 5
    assert (chat["max_completion_tokens"], chat["top_p"], chat["parallel_tool_calls"]) == (
        9,
        0.5,
        False,
    )
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["reasoning_effort"] == "high" and chat["tool_choice"] == "required"
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {}, "strict": True}}
    ]
    assert "store" not in chat


@pytest.mark.parametrize(
    "extra",
    [
        {"previous_response_id": "resp_1"},
        {"conversation": "conv_1"},
        {"background": True},
        {"tools": [{"type": "web_search"}]},
        {"tool_choice": {"type": "file_search"}},
        {"input": [{"type": "item_reference", "id": "msg_1"}]},
        {"input": [{"type": "web_search_call", "id": "ws_1"}]},
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
    ],
)
def test_stateful_or_built_in_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        responses_to_chat({"model": "m", "input": "x", **extra}, "t")


def completion(finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "id": "abc",
        "object": "chat.completion",
        "created": 1,
        "model": "mm",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }


def test_response_parses_with_the_sdk() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    obj = chat_to_response(completion(content="hi", reasoning_content="think", tool_calls=[call]))
    response = Response.model_validate(obj)
    assert response.id == "resp_abc" and response.output_text == "hi"
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.usage is not None and response.usage.total_tokens == 6


def test_length_is_incomplete() -> None:
    obj = chat_to_response(completion("length", content="cut"))
    assert obj["status"] == "incomplete"
    assert obj["incomplete_details"] == {"reason": "max_output_tokens"}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "x",
        "model": "mm",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_stream_events_and_failure() -> None:
    translator = ChunksToEvents(None)
    events = translator.feed(chunk({"role": "assistant", "reasoning_content": "r"}))
    events += translator.feed(chunk({"content": "a"}))
    failed = translator.failed("upstream_disconnected", "gone")
    names = [e["type"] for e in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert failed["sequence_number"] == len(events)
    response = Response.model_validate(failed["response"])
    assert response.status == "failed" and response.error is not None
    assert response.output[1].content[0].text == "a"  # type: ignore[union-attr,index]


def test_stream_length_ends_incomplete() -> None:
    translator = ChunksToEvents(None)
    translator.feed(chunk({"content": "a"}, "length"))
    last = translator.finish()[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
