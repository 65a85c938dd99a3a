"""The three front doors as a client sees them: how to ask, how a stream ends or breaks, and
the error envelope. The conformance suite is written once against `FrontDoor`.

    door        clean end            mid-stream failure                      error envelope
    chat        data: [DONE]         data: {"error": {... upstream_disconnected}}   OpenAI
    messages    event: message_stop  event: error (api_error)                Anthropic
    responses   response.completed   response.failed ("upstream_disconnected: ...")  OpenAI
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from support import ALICE_KEY


@dataclass(frozen=True)
class Event:
    """One SSE block: its `event:` name ("" when absent) and its `data:`."""

    name: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(raw: str) -> list[Event]:
    """The events of an SSE body; comments (`: keep-alive`) left out."""
    events = []
    for block in raw.split("\n\n"):
        if not block or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append(Event(fields.get("event", ""), fields["data"]))
    return events


class FrontDoor:
    """A public endpoint, in the terms the suite checks: request body, end marker, failure
    event, streamed text, non-stream text and error envelope."""

    id: ClassVar[str]
    path: ClassVar[str]
    headers: ClassVar[dict[str, str]] = {"authorization": f"Bearer {ALICE_KEY}"}
    # fault kind → the error `type` (and `code`; None where the envelope has none) expected
    # in the JSON error before any 200; a None type means the upstream's own (SPEC 3).
    errors: ClassVar[dict[str, tuple[str | None, str | None]]]

    def body(self, model: str, text: str, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def is_end(self, event: Event) -> bool:
        """The clean-end marker."""
        raise NotImplementedError

    def is_failure(self, event: Event) -> bool:
        """The one event that reports a broken stream (SPEC 4.4 in this door's terms)."""
        raise NotImplementedError

    def claims_finish(self, event: Event) -> bool:
        """An event saying the answer is complete (a finish reason, a stop): never sent on a
        broken stream (SPEC 4.4: no made-up `finish_reason`)."""
        raise NotImplementedError

    def check_framing(self, events: list[Event]) -> None:
        """This door's own rules for a stream's events (names, numbering)."""

    def texts(self, events: list[Event]) -> list[str]:
        """The text deltas of a stream, in order."""
        raise NotImplementedError

    def reply_text(self, answer: dict[str, Any]) -> str:
        """The text of a non-stream answer."""
        raise NotImplementedError

    def envelope(self, error: dict[str, Any]) -> tuple[str, str | None]:
        """(type, code) of an error body, after checking its shape."""
        assert set(error) == {"error"}, error
        assert set(error["error"]) == {"message", "type", "code", "param"}, error
        return error["error"]["type"], error["error"]["code"]


_OPENAI_ERRORS: dict[str, tuple[str | None, str | None]] = {
    "timeout": ("timeout_error", "request_timeout"),
    "upstream": ("upstream_error", "upstream_error"),
    "rate_limit": (None, None),  # an upstream 4xx passes through with its own type and code
}


class Chat(FrontDoor):
    id = "chat"
    path = "/v1/chat/completions"
    errors = _OPENAI_ERRORS

    def body(self, model: str, text: str, stream: bool) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}

    def is_end(self, event: Event) -> bool:
        return event.data == "[DONE]"

    def is_failure(self, event: Event) -> bool:
        if self.is_end(event) or "error" not in event.json():
            return False
        error = event.json()["error"]
        assert (error["type"], error["code"]) == ("upstream_error", "upstream_disconnected")
        return True

    def claims_finish(self, event: Event) -> bool:
        if self.is_end(event) or "error" in event.json():
            return False
        return any(choice.get("finish_reason") for choice in event.json()["choices"])

    def texts(self, events: list[Event]) -> list[str]:
        chunks = [e.json() for e in events if not self.is_end(e) and not self.is_failure(e)]
        # The role chunk may carry `content: ""` (as OpenAI's does) and the finish chunk none.
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        return [d["content"] for d in deltas if d.get("content")]

    def reply_text(self, answer: dict[str, Any]) -> str:
        return str(answer["choices"][0]["message"]["content"])


class Messages(FrontDoor):
    id = "messages"
    path = "/v1/messages"
    headers = {"x-api-key": ALICE_KEY, "anthropic-version": "2023-06-01"}
    errors = {
        "timeout": ("timeout_error", None),
        "upstream": ("api_error", None),
        "rate_limit": ("rate_limit_error", None),
    }

    def body(self, model: str, text: str, stream: bool) -> dict[str, Any]:
        messages = [{"role": "user", "content": text}]
        return {"model": model, "max_tokens": 100, "messages": messages, "stream": stream}

    def is_end(self, event: Event) -> bool:
        return event.name == "message_stop"

    def is_failure(self, event: Event) -> bool:
        if event.name != "error":
            return False
        assert event.json()["type"] == "error" and event.json()["error"]["type"] == "api_error"
        return True

    def claims_finish(self, event: Event) -> bool:
        return event.name in ("message_delta", "message_stop")  # message_delta: stop_reason

    def check_framing(self, events: list[Event]) -> None:
        assert events[0].name == "message_start", events[0]
        assert all(e.json()["type"] == e.name for e in events), events

    def texts(self, events: list[Event]) -> list[str]:
        deltas = [e.json()["delta"] for e in events if e.name == "content_block_delta"]
        return [d["text"] for d in deltas if d["type"] == "text_delta"]

    def reply_text(self, answer: dict[str, Any]) -> str:
        return "".join(b["text"] for b in answer["content"] if b["type"] == "text")

    def envelope(self, error: dict[str, Any]) -> tuple[str, str | None]:
        assert error["type"] == "error" and set(error["error"]) == {"type", "message"}, error
        return error["error"]["type"], None


class Responses(FrontDoor):
    id = "responses"
    path = "/v1/responses"
    errors = _OPENAI_ERRORS

    def body(self, model: str, text: str, stream: bool) -> dict[str, Any]:
        return {"model": model, "input": text, "stream": stream}

    def is_end(self, event: Event) -> bool:
        return event.name == "response.completed"

    def is_failure(self, event: Event) -> bool:
        if event.name != "response.failed":
            return False
        response = event.json()["response"]
        assert response["status"] == "failed"
        assert response["error"]["message"].startswith("upstream_disconnected: "), response
        return True

    def claims_finish(self, event: Event) -> bool:
        return event.name in ("response.output_text.done", "response.completed")

    def check_framing(self, events: list[Event]) -> None:
        assert events[0].name == "response.created", events[0]
        assert all(e.json()["type"] == e.name for e in events), events
        assert [e.json()["sequence_number"] for e in events] == list(range(len(events)))

    def texts(self, events: list[Event]) -> list[str]:
        return [e.json()["delta"] for e in events if e.name == "response.output_text.delta"]

    def reply_text(self, answer: dict[str, Any]) -> str:
        assert answer["status"] == "completed", answer
        messages = [item for item in answer["output"] if item["type"] == "message"]
        return "".join(part["text"] for item in messages for part in item["content"])


DOORS: list[FrontDoor] = [Chat(), Messages(), Responses()]
