"""The Anthropic splice's block numbering where the mock cannot reach it over the wire: a
continuation whose first block is not text, and one after the client's text block closed.
Pure functions on real event objects (what the relay feeds the splice)."""

from __future__ import annotations

from typing import Any

from sluicegate.providers.base import Chunk
from sluicegate.proxy.splice_anthropic import MessagesTrack
from sluicegate.record import Usage


def ev(kind: str, index: int | None = None, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, **fields}
    if index is not None:
        obj["index"] = index
    return obj


def text_block(index: int) -> dict[str, Any]:
    return ev("content_block_start", index, content_block={"type": "text", "text": ""})


def text(index: int, piece: str) -> dict[str, Any]:
    return ev("content_block_delta", index, delta={"type": "text_delta", "text": piece})


def spliced(track: MessagesTrack, continuation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    splice = track.splice("w0", " ", Usage(10, 2, 12))
    out = splice.feed([Chunk(obj) for obj in continuation]) + splice.flush()
    return [chunk.obj for chunk in out]


START = ev("message_start", message={"id": "msg_2", "usage": {"input_tokens": 12}})
END = [
    ev("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 5}),
    ev("message_stop"),
]


def test_a_continuation_opening_a_tool_block_closes_the_open_text_block_first() -> None:
    track = MessagesTrack()
    for obj in (ev("message_start", message={"id": "msg_1"}), text_block(0), text(0, "w0 ")):
        track.note(obj)
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    out = spliced(
        track,
        [
            START,
            ev("content_block_start", 0, content_block=tool),
            ev("content_block_delta", 0, delta={"type": "input_json_delta", "partial_json": "{}"}),
            ev("content_block_stop", 0),
            *END,
        ],
    )
    assert [(o["type"], o.get("index")) for o in out] == [
        ("content_block_stop", 0),  # the client's text block, closed by the gateway
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    usage = out[4]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (12 + 10, 5 + 2)


def test_after_a_closed_text_block_the_continuation_opens_the_next_block() -> None:
    track = MessagesTrack()
    for obj in (text_block(0), text(0, "w0 "), ev("content_block_stop", 0)):
        track.note(obj)
    out = spliced(track, [START, text_block(0), text(0, " w1 "), ev("content_block_stop", 0)])
    assert [(o["type"], o.get("index")) for o in out] == [
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
    ]
    assert out[1]["delta"]["text"] == "w1 "  # the space the client already had, trimmed


def test_a_tool_or_thinking_block_blocks_resume_and_a_stop_reason_ends_it() -> None:
    for block in ({"type": "tool_use"}, {"type": "thinking"}, {"type": "redacted_thinking"}):
        track = MessagesTrack()
        track.note(ev("content_block_start", 0, content_block=block))
        assert track.blocked
    track = MessagesTrack()
    track.note(text_block(0))
    assert not track.blocked and not track.finished
    track.note(END[0])
    assert track.finished
