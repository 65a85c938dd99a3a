"""What the resume tests of every front door share: the mock's words, the SDK streams they
read, and how a log row's tries are compared."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai

from sluicegate.record import Completion
from support import ALICE_KEY, MASTER_KEY, RunningGateway, wait_until


def words(first: int, end: int) -> str:
    """The mock's text from word `first` to before `end` ("w0 w1 ... ")."""
    return "".join(f"w{i} " for i in range(first, end))


def logged(gateway: RunningGateway, request_id: str) -> dict[str, Any]:
    """The request log row of `request_id` as the admin API returns it, once written."""
    url = f"{gateway.url}/admin/analytics/requests/{request_id}"
    admin = {"authorization": f"Bearer {MASTER_KEY}"}

    def row() -> dict[str, Any] | None:
        response = httpx.get(url, headers=admin, timeout=10)
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = wait_until(row)
    return found


def tries(record: Completion) -> list[tuple[str, str | None]]:
    """The (backend, error_type) of every attempt in the row."""
    return [(a.backend, a.error_type) for a in record.attempts]


def outcome(record: Completion) -> tuple[str | None, bool, int]:
    """The row's error_type, resumed and number of attempts."""
    return record.error_type, record.resumed, len(record.attempts)


def claude_stream(gateway: RunningGateway, model: str, text: str) -> tuple[str, Any, Completion]:
    """One /v1/messages stream read by the official SDK: its text, final message and row."""
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=ALICE_KEY, max_retries=0)
    with sdk.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": text}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        message = stream.get_final_message()
    return streamed, message, gateway.completion(stream.response.headers["x-request-id"])


def responses_stream(
    client: openai.OpenAI, gateway: RunningGateway, model: str, text: str
) -> tuple[list[Any], Completion]:
    """One /v1/responses stream read by the official SDK: its events and the row."""
    stream = client.responses.create(model=model, input=text, stream=True)
    events = list(stream)
    return events, gateway.completion(stream.response.headers["x-request-id"])
