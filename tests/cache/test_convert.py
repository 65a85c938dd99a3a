"""The conversions of `cache/convert/` on answers the mock upstream does not send (several
choices, refusals, redacted thinking, reasoning summaries, unknown items): a JSON answer turned
into a stream and back is the same answer; what cannot be converted is None (a miss). The
socket-level behaviour with the SDKs is in test_across_chat.py and test_across_doors.py."""

from __future__ import annotations

import json
from typing import Any

import orjson

from sluicegate.cache.convert import convert
from sluicegate.cache.convert.frames import MAX_PIECES, PIECE_CHARS, pieces
from sluicegate.cache.entry import Entry

from .harness import sse_data, sse_events

LONG = "a fairly long answer, " * 10
USAGE = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
NOTES = [
    {"type": "url_citation", "start_index": 2, "end_index": 8, "title": "F", "url": "https://f.x"},
    {"type": "file_citation", "file_id": "file_1", "filename": "a.txt", "index": 3},
]


def stored(answer: dict[str, Any]) -> Entry:
    return Entry(False, orjson.dumps(answer), usage=USAGE)


def round_trip(path: str, answer: dict[str, Any]) -> tuple[Entry, dict[str, Any]]:
    streamed = convert(path, stored(answer), True)
    assert streamed is not None and streamed.stream
    back = convert(path, streamed, False)
    assert back is not None and not back.stream and back.usage == USAGE
    return streamed, json.loads(back.body)


def test_chat_with_two_choices_refusal_and_tool_calls_round_trips() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": LONG}}
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 7,
        "model": "gpt-x",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": LONG, "reasoning_content": "why"},
                "logprobs": None,
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": None, "tool_calls": [call, call]},
                "logprobs": None,
                "finish_reason": "tool_calls",
            },
            {
                "index": 2,
                "message": {"role": "assistant", "content": None, "refusal": "no"},
                "logprobs": None,
                "finish_reason": "stop",
            },
        ],
        "usage": USAGE,
    }
    streamed, back = round_trip("/chat/completions", answer)
    assert back == answer
    chunks = [json.loads(d) for d in sse_data(streamed.payload(wants_usage=True).decode())[:-1]]
    assert chunks[-1] == {
        **{k: answer[k] for k in ("id", "created", "model")},
        **{
            "object": "chat.completion.chunk",
            "system_fingerprint": "fp_1",
            "choices": [],
            "usage": USAGE,
        },
    }
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[:-1]]
    assert max(len(p) for p in pieces if p) == PIECE_CHARS
    assert streamed.payload(wants_usage=False).endswith(b"}\n\ndata: [DONE]\n\n")
    assert b'"usage"' not in streamed.payload(wants_usage=False)


def test_legacy_completion_round_trips() -> None:
    answer = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "text": LONG, "logprobs": None, "finish_reason": "length"}],
        "usage": USAGE,
    }
    assert round_trip("/completions", answer)[1] == answer


def test_message_with_every_block_kind_round_trips() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": LONG, "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": LONG},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"city": LONG}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 2},
    }
    streamed, back = round_trip("/messages", message)
    assert back == message
    names = [name for name, _ in sse_events(streamed.payload(False).decode())]
    assert names.count("content_block_start") == names.count("content_block_stop") == 4
    assert names[-2:] == ["message_delta", "message_stop"]


def test_response_items_are_streamed_part_by_part() -> None:
    response = {
        "id": "resp_1",
        "object": "response",
        "status": "incomplete",
        "output": [
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": LONG}],
            },
            {
                "id": "msg_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "refusal", "refusal": "no"},
                    {"type": "output_text", "text": LONG, "annotations": NOTES, "logprobs": []},
                ],
            },
            {"id": "ws_1", "type": "web_search_call", "status": "completed"},
        ],
        "usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12},
    }
    streamed, back = round_trip("/responses", response)
    assert back == response
    events = sse_events(streamed.payload(False).decode())
    names = [name for name, _ in events]
    assert names[-1] == "response.incomplete"
    summary = "".join(e["delta"] for n, e in events if n == "response.reasoning_summary_text.delta")
    text = "".join(e["delta"] for n, e in events if n == "response.output_text.delta")
    assert summary == text == LONG
    assert [e["refusal"] for n, e in events if n == "response.refusal.done"] == ["no"]
    added = [e["item"]["type"] for n, e in events if n == "response.output_item.added"]
    assert added == ["reasoning", "message", "web_search_call"]
    # A citation follows the delta that ends what it cites; one with no end_index (a file
    # citation) follows the last delta.
    text_events = [n for n, _ in events if n.startswith("response.output_text")]
    delta, note, done = (
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
    )
    assert text_events == [delta, note, delta, delta, delta, note, done]
    notes = [e for n, e in events if n == note]
    assert [(e["annotation_index"], e["annotation"]) for e in notes] == list(enumerate(NOTES))
    assert {(e["item_id"], e["output_index"], e["content_index"]) for e in notes} == {
        ("msg_1", 1, 1)
    }


def test_what_cannot_be_converted_is_none() -> None:
    assert convert("/embeddings", stored({"data": []}), True) is None
    assert convert("/chat/completions", Entry(False, b"[1, 2]"), True) is None
    assert convert("/chat/completions", Entry(False, b"{not json"), True) is None
    assert convert("/messages", Entry(True, b"data: {\n\n"), False) is None
    no_final = b'event: response.created\ndata: {"type": "response.created"}\n\n'
    assert convert("/responses", Entry(True, no_final), False) is None
    same = stored({"id": "x"})
    assert convert("/chat/completions", same, False) is same


def test_a_long_text_is_cut_in_at_most_max_pieces() -> None:
    assert pieces("x" * PIECE_CHARS * 3) == ["x" * PIECE_CHARS] * 3
    long = "y" * (PIECE_CHARS * MAX_PIECES * 10 + 1)
    cut = pieces(long)
    assert len(cut) <= MAX_PIECES and "".join(cut) == long
    assert pieces("") == pieces(None) == []
