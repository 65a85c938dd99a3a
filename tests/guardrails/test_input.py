"""`on: input` guardrails over real sockets: a block is the SPEC 3 400 `content_filter`
(nothing reaches the upstream), a mask changes what the upstream receives, on every front
door; the log names the guardrails that acted; masked text never reaches the request log."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from sluicegate.proxy.guard import withheld
from support import ALICE_KEY, SCRIBE_KEY, MockUpstream, RunningGateway

from .harness import SECRET, error_of, logged_row

CARD = "4111 1111 1111 1111"
PII = f"mail bob@example.com, call +1 (555) 123-4567, card {CARD}, iban DE89370400440532013000"
HELLO = [{"role": "user", "content": "hello"}]
MASKED = "mail [EMAIL], call [PHONE], card [CREDIT_CARD], iban [IBAN]"


def upstream_text(mock: MockUpstream, tag: str) -> str:
    """Everything the mock was sent for the request carrying `tag`, as JSON text."""
    return json.dumps(mock.request(tag)["body"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", lambda t: {"messages": [{"role": "user", "content": t}]}),
        (
            "/v1/chat/completions",
            lambda t: {"messages": [{"role": "user", "content": [{"type": "text", "text": t}]}]},
        ),
        ("/v1/completions", lambda t: {"prompt": t}),
        ("/v1/completions", lambda t: {"prompt": ["ok", t]}),
        ("/v1/messages", lambda t: {"max_tokens": 9, "messages": [{"role": "user", "content": t}]}),
        ("/v1/messages", lambda t: {"max_tokens": 9, "system": t, "messages": HELLO}),
        ("/v1/responses", lambda t: {"input": t}),
        ("/v1/responses", lambda t: {"input": [{"role": "user", "content": t}]}),
        ("/v1/responses", lambda t: {"instructions": t, "input": "hi"}),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_secret_is_blocked_before_the_upstream_on_every_door(
    http: httpx.Client,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
    path: str,
    body: Any,
    stream: bool,
) -> None:
    response = http.post(path, json={"model": "m", "stream": stream, **body(f"{tag} {SECRET}")})
    assert response.status_code == 400
    if path == "/v1/messages":
        assert response.json()["error"]["type"] == "invalid_request_error"
    else:
        assert error_of(response) == (400, "invalid_request_error", "content_filter")
    assert SECRET not in response.text
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.error_type, row.guardrails) == ("content_filter", ("no-secrets",))
    assert row.attempts == ()
    assert mock.requests(tag) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", lambda t: {"messages": [{"role": "user", "content": t}]}),
        ("/v1/completions", lambda t: {"prompt": t}),
        ("/v1/messages", lambda t: {"max_tokens": 9, "messages": [{"role": "user", "content": t}]}),
        ("/v1/responses", lambda t: {"input": t}),
    ],
)
def test_pii_is_masked_in_what_the_upstream_receives(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, path: str, body: Any
) -> None:
    response = http.post(path, json={"model": "m", **body(f"{tag} {PII}")})
    assert response.status_code == 200, response.text
    sent = upstream_text(mock, tag)
    assert MASKED in sent
    for secret in ("bob@example.com", "555", "4111", "DE89"):
        assert secret not in sent
    row = gateway.completion(response.headers["x-request-id"])
    assert (row.error_type, row.guardrails) == (None, ("pii",))


def test_a_card_number_failing_luhn_is_not_masked(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    text = f"{tag} order 4111111111111112 and year 2024"
    response = http.post("/v1/completions", json={"model": "m", "prompt": text})
    assert response.status_code == 200
    assert mock.request(tag)["body"]["prompt"] == text
    assert gateway.completion(response.headers["x-request-id"]).guardrails == ()


def test_an_invalid_iban_is_not_masked(http: httpx.Client, mock: MockUpstream, tag: str) -> None:
    text = f"{tag} DE89370400440532013001"
    assert http.post("/v1/completions", json={"model": "m", "prompt": text}).status_code == 200
    assert mock.request(tag)["body"]["prompt"] == text


def test_a_prompt_over_max_input_tokens_is_blocked(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    # `size` allows 50 estimated tokens: 4 characters each, over every text of the request.
    fits = http.post("/v1/completions", json={"model": "m", "prompt": f"{tag}a " + "x" * 180})
    assert fits.status_code == 200
    long = http.post(
        "/v1/chat/completions",
        json={
            "model": "m",
            "messages": [
                {"role": "system", "content": "y" * 150},
                {"role": "user", "content": f"{tag}b " + "x" * 60},
            ],
        },
    )
    assert error_of(long) == (400, "invalid_request_error", "content_filter")
    assert gateway.completion(long.headers["x-request-id"]).guardrails == ("size",)
    assert mock.requests(f"{tag}b") == []


def test_masking_and_blocking_are_both_named_in_order(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    response = http.post("/v1/completions", json={"model": "m", "prompt": ["a@b.io", SECRET]})
    assert response.status_code == 400
    # `no-secrets` comes first in the config and blocks before `pii` runs.
    assert gateway.completion(response.headers["x-request-id"]).guardrails == ("no-secrets",)


def test_per_model_selection_none_is_all_and_empty_is_none(
    http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    blocked = http.post("/v1/completions", json={"model": "m-all", "prompt": f"{tag}a {SECRET}"})
    assert error_of(blocked)[2] == "content_filter"
    prompt = f"{tag}b {SECRET} a@b.io"
    free = http.post("/v1/completions", json={"model": "m-none", "prompt": prompt})
    assert free.status_code == 200
    assert mock.request(f"{tag}b")["body"]["prompt"] == prompt


def test_masked_input_never_reaches_the_request_log(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    headers = {"authorization": f"Bearer {SCRIBE_KEY}"}
    body = {"model": "m", "messages": [{"role": "user", "content": f"{tag} {PII}"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    row = logged_row(gateway.url, response.headers["x-request-id"])
    assert row["guardrails"] == ["pii"]
    assert row["detail_logged"] is True
    stored = json.loads(row["request_body"])
    assert stored["messages"][0]["content"] == f"{tag} {MASKED}"
    assert "bob@example.com" not in row["request_body"]


def test_a_blocked_request_is_logged_by_name_without_its_body(
    gateway: RunningGateway, tag: str
) -> None:
    headers = {"authorization": f"Bearer {SCRIBE_KEY}"}
    body = {"model": "m", "prompt": f"{tag} {SECRET}"}
    response = httpx.post(gateway.url + "/v1/completions", json=body, headers=headers)
    row = logged_row(gateway.url, response.headers["x-request-id"])
    assert (row["status_code"], row["error_type"], row["guardrails"]) == (
        400,
        "content_filter",
        ["no-secrets"],
    )
    # What was blocked does not reach the database either, not even for detail logging.
    assert row["request_body"] == withheld("no-secrets")
    assert SECRET not in str(row)


def test_the_sdks_raise_bad_request_with_code_content_filter(gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=ALICE_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": SECRET}])
    assert caught.value.code == "content_filter"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input=SECRET)
    assert caught.value.code == "content_filter"
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=ALICE_KEY, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model="m", max_tokens=9, messages=[{"role": "user", "content": SECRET}]
        )
    assert "no-secrets" in str(refused.value)
