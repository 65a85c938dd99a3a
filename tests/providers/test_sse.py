"""Tests for sluicegate.providers.sse: the incremental SSE decoder against the WHATWG rules,
fed in every way a socket may cut the bytes, and the frame encoders."""

from __future__ import annotations

import pytest

from sluicegate.providers.sse import (
    DONE_FRAME,
    KEEPALIVE_FRAME,
    ServerSentEvent,
    SSEDecoder,
    encode_data,
)

STREAM = (
    b": keep-alive\n\n"
    b'data: {"choices": [{"delta": {"content": "w0 "}}]}\n\n'
    b"event: error\n"
    b"data: first line\n"
    b"data: second line\n"
    b"\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"data:no-space\n\n"
    b"event: ping\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent(None, b'{"choices": [{"delta": {"content": "w0 "}}]}'),
    ServerSentEvent("error", b"first line\nsecond line"),
    ServerSentEvent(None, b"no-space"),
    ServerSentEvent(None, b"[DONE]"),
]


def feed_all(pieces: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events


def test_whole_stream_in_one_feed() -> None:
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("offset", range(1, len(STREAM)))
def test_stream_split_in_two_at_every_offset(offset: int) -> None:
    assert feed_all([STREAM[:offset], STREAM[offset:]]) == EXPECTED


def test_stream_fed_one_byte_at_a_time() -> None:
    assert feed_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_empty_feeds_change_nothing() -> None:
    assert feed_all([b"", STREAM[:10], b"", STREAM[10:], b""]) == EXPECTED


def test_an_event_waits_for_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"data: b") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(None, b"a\nb")]
    assert decoder.feed(b"") == []


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"], ids=["crlf", "cr", "lf"])
def test_line_endings(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    assert feed_all([stream]) == EXPECTED
    assert feed_all([stream[i : i + 1] for i in range(len(stream))]) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_cr_line_endings_split_at_every_offset(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    for offset in range(1, len(stream)):
        assert feed_all([stream[:offset], stream[offset:]]) == EXPECTED, offset


def test_crlf_split_across_two_feeds_is_one_line_break() -> None:
    # Were "\r" | "\n" two line breaks, the blank line between them would dispatch "a" alone.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r\n\r") == [ServerSentEvent(None, b"a\nb")]
    assert decoder.feed(b"\ndata: c\r\n\r\n") == [ServerSentEvent(None, b"c")]


def test_lone_cr_then_lf_in_the_next_feed_after_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent(None, b"a")]
    # The "\n" completes the previous "\r": no extra blank line, no stray event.
    assert decoder.feed(b"\ndata: b\n\n") == [ServerSentEvent(None, b"b")]


def test_mixed_line_endings_in_one_stream() -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    assert feed_all([stream]) == [ServerSentEvent(None, b"a\nb\nc"), ServerSentEvent(None, b"d")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    stream = b"data: one\ndata: two\ndata:three\ndata: \n\n"
    assert feed_all([stream]) == [ServerSentEvent(None, b"one\ntwo\nthree\n")]


def test_comments_are_ignored() -> None:
    stream = b": keep-alive\n\n:\n\ndata: a\n: inside an event\ndata: b\n\n: trailing\n\n"
    assert feed_all([stream]) == [ServerSentEvent(None, b"a\nb")]


def test_event_names() -> None:
    stream = (
        b"event: message_start\ndata: {}\n\n"
        b"data: plain\n\n"
        b"event:error\ndata: x\n\n"
        b"event: first\nevent: second\ndata: y\n\n"
    )
    assert feed_all([stream]) == [
        ServerSentEvent("message_start", b"{}"),
        ServerSentEvent(None, b"plain"),  # the name does not carry over to the next event
        ServerSentEvent("error", b"x"),
        ServerSentEvent("second", b"y"),
    ]


def test_an_event_without_data_is_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: ping\n\n") == []
    assert decoder.feed(b"id: 3\nretry: 10\n\n") == []
    # Its name is dropped with it, not given to the next event.
    assert decoder.feed(b"data: after\n\n") == [ServerSentEvent(None, b"after")]


def test_blank_lines_alone_dispatch_nothing() -> None:
    assert feed_all([b"\n\n\n\r\n\r\r"]) == []


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"data: x", b"x"),
        (b"data:x", b"x"),
        (b"data:  x", b" x"),  # only one leading space is removed
        (b"data: x ", b"x "),
        (b"data: a: b", b"a: b"),
        (b"data:", b""),
        (b"data", b""),
    ],
)
def test_data_with_and_without_the_space(line: bytes, data: bytes) -> None:
    assert feed_all([line + b"\n\n"]) == [ServerSentEvent(None, data)]


def test_unknown_fields_are_ignored() -> None:
    assert feed_all([b"foo: bar\ndata: x\nDATA: y\n\n"]) == [ServerSentEvent(None, b"x")]


def test_a_partial_event_at_end_of_stream_is_not_dispatched() -> None:
    assert feed_all([b"data: complete\n\ndata: cut off\n"]) == [ServerSentEvent(None, b"complete")]


def test_utf8_split_inside_a_character() -> None:
    stream = "data: héllo ☃\n\n".encode()
    cut = stream.index("☃".encode()) + 1
    assert feed_all([stream[:cut], stream[cut:]]) == [ServerSentEvent(None, "héllo ☃".encode())]


# encoders


def test_encoders_round_trip_through_the_decoder() -> None:
    frames = encode_data(b'{"a":1}') + KEEPALIVE_FRAME + b"event: error\ndata: {}\n\n" + DONE_FRAME
    assert feed_all([frames]) == [
        ServerSentEvent(None, b'{"a":1}'),
        ServerSentEvent("error", b"{}"),
        ServerSentEvent(None, b"[DONE]"),
    ]
    assert DONE_FRAME == b"data: [DONE]\n\n"
    assert KEEPALIVE_FRAME.startswith(b":") and KEEPALIVE_FRAME.endswith(b"\n\n")
