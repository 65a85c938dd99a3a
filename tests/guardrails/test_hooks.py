"""A third-party guardrail written as a user hook (`hook_example.TicketGuard`): it masks
what goes upstream and what comes back, blocks with the 400 `content_filter`, runs after the
built-in guardrails and is named in the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sluicegate.config.schema import GatewayConfig
from sluicegate.guardrails.texts import GuardedRequest
from sluicegate.hooks.base import Hook
from support import ALICE_KEY, MASTER_KEY, MockUpstream, RunningGateway

from .harness import error_of


class Grower(Hook):
    """A faulty guardrail hook: adds a text (the contract allows replacing only) on "grow!"."""

    async def check_input(self, request: GuardedRequest) -> None:
        if any("grow!" in text for text in request.texts):
            request.texts.append("more")


@pytest.fixture(scope="module")
def hooked(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    folder: Path = tmp_path_factory.mktemp("hooked")
    config = GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "server": {"master_key": MASTER_KEY},
            "backends": [
                {"name": "mock", "type": "openai", "base_url": mock.url + "/v1"},
                {"name": "demo", "type": "demo"},
            ],
            "models": [
                {"name": "m", "targets": [{"backend": "mock", "model": "mock-model"}]},
                {"name": "echo", "targets": [{"backend": "demo", "model": "demo-echo"}]},
            ],
            "users": [{"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]}],
            "guardrails": [{"name": "pii", "type": "pii", "action": "mask"}],
            "hooks": [
                {
                    "class": "guardrails.hook_example:TicketGuard",
                    "options": {"codenames": ["Bluebird"]},
                },
                {"class": "guardrails.test_hooks:Grower"},
            ],
        }
    )
    gateway = RunningGateway(config)
    yield gateway
    gateway.stop()


def post(gateway: RunningGateway, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {ALICE_KEY}"},
        timeout=30,
    )


def chat(model: str, text: str) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def test_the_hook_masks_the_input_after_the_built_ins(
    hooked: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = post(hooked, chat("m", f"{tag} see TCK-4711, mail a@b.io"))
    assert response.status_code == 200
    sent = mock.request(tag)["body"]["messages"][0]["content"]
    assert sent == f"{tag} see [TICKET], mail [EMAIL]"
    assert hooked.completion(response.headers["x-request-id"]).guardrails == ("pii", "tickets")


def test_the_hook_blocks_with_content_filter(
    hooked: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = post(hooked, chat("m", f"{tag} what is project bluebird?"))
    assert error_of(response) == (400, "invalid_request_error", "content_filter")
    row = hooked.completion(response.headers["x-request-id"])
    assert (row.error_type, row.guardrails) == ("content_filter", ("tickets",))
    assert mock.requests(tag) == []


def test_the_hook_masks_a_whole_answer(hooked: RunningGateway) -> None:
    # The demo echoes the prompt; the input hook leaves host names alone, the output one not.
    response = post(hooked, chat("echo", "ping db1.corp.internal now"))
    assert response.json()["choices"][0]["message"]["content"] == "ping [HOST] now"
    assert hooked.completion(response.headers["x-request-id"]).guardrails == ("tickets",)
    clean = post(hooked, chat("echo", "plain words"))
    assert clean.json()["choices"][0]["message"]["content"] == "plain words"
    assert hooked.completion(clean.headers["x-request-id"]).guardrails == ()


def test_streams_are_not_given_to_output_hooks(hooked: RunningGateway) -> None:
    # check_output sees whole answers only (docs/guardrails.md): a stream passes as it is.
    body = {**chat("echo", "ping db1.corp.internal"), "stream": True}
    response = post(hooked, body)
    assert response.status_code == 200
    assert "db1.corp.internal" in response.text  # the demo streams one word a chunk
    assert response.text.rstrip().endswith("data: [DONE]")
    assert hooked.completion(response.headers["x-request-id"]).guardrails == ()


def test_a_hook_that_adds_texts_is_an_internal_error(
    hooked: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = post(hooked, chat("m", f"{tag} grow!"))
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal server error."
    assert hooked.completion(response.headers["x-request-id"]).error_type == "internal_error"
    assert mock.requests(tag) == []
