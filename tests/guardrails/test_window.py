"""The stream window: matches split across chunks are caught, within WINDOW_CHARS."""

from __future__ import annotations

from typing import Any

import pytest

from sluicegate.config.content import GuardrailConfig
from sluicegate.errors import ContentFiltered
from sluicegate.guardrails.regex import RegexGuardrail
from sluicegate.guardrails.window import WINDOW_CHARS, StreamWindow

GUARD = RegexGuardrail(
    GuardrailConfig.model_validate({"name": "w", "type": "regex", "pattern": "secret sauce"})
)


def chat(text: str, index: int = 0) -> dict[str, Any]:
    return {"choices": [{"index": index, "delta": {"content": text}}]}


def test_a_match_split_over_three_chunks_is_caught_on_the_last() -> None:
    window = StreamWindow([GUARD], "/chat/completions")
    for piece in ("the sec", "ret s", "au"):
        window.feed(chat(piece))
    with pytest.raises(ContentFiltered):
        window.feed(chat("ce!"))


def test_choices_are_scanned_apart() -> None:
    window = StreamWindow([GUARD], "/chat/completions")
    window.feed(chat("secret ", 0))
    window.feed(chat("sauce", 1))  # another choice: no match across lanes


def text_delta(text: str) -> dict[str, str]:
    return {"type": "text_delta", "text": text}


@pytest.mark.parametrize(
    ("operation", "make"),
    [
        ("/completions", lambda t: {"choices": [{"index": 0, "text": t}]}),
        (
            "/messages",
            lambda t: {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": t},
            },
        ),
        ("/responses", lambda t: {"type": "response.output_text.delta", "delta": t}),
    ],
)
def test_every_stream_shape_is_read(operation: str, make: Any) -> None:
    window = StreamWindow([GUARD], operation)
    window.feed(make("secret "))
    with pytest.raises(ContentFiltered):
        window.feed(make("sauce"))


def test_a_match_longer_than_the_window_is_missed() -> None:
    # The documented limit: only the last WINDOW_CHARS characters are kept per lane.
    long = RegexGuardrail(
        GuardrailConfig.model_validate({"name": "l", "type": "regex", "pattern": "BEGIN[a]+END"})
    )
    window = StreamWindow([long], "/chat/completions")
    window.feed(chat("BEGIN" + "a" * WINDOW_CHARS))
    window.feed(chat("END"))  # BEGIN left the window: not caught
    short = StreamWindow([long], "/chat/completions")
    short.feed(chat("BEGIN" + "a" * (WINDOW_CHARS - 10)))
    with pytest.raises(ContentFiltered):
        short.feed(chat("END"))
