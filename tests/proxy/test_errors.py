"""SPEC 3's error table (the rows that exist without rate limits and budgets), over real sockets:
exact status, `type`, `code`, the four-key body, `x-request-id`, and the one Completion (SPEC 6)
each request leaves behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from sluicegate.record import Completion
from support import ALICE_KEY, BOB_KEY, MASTER_KEY, MockUpstream, RunningGateway

CHAT = "/v1/chat/completions"


def chat(model: str, text: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def assert_error(
    response: httpx.Response, status: int, type_: str, code: str | None
) -> dict[str, Any]:
    """The response is SPEC 3's JSON error with exactly the four keys; returns the error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body = response.json()
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert isinstance(error["message"], str) and error["message"]
    assert (error["type"], error["code"]) == (type_, code)
    assert error["param"] is None or isinstance(error["param"], str)
    return error


def record_of(
    gateway: RunningGateway, response: httpx.Response, status: int, error_type: str | None
) -> Completion:
    """The request's one Completion, with the status the client got and its log error_type."""
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type) == (status, error_type)
    return record


# 400 invalid_json / invalid_request


@pytest.mark.parametrize(
    "content", [b'{"model": "m", "messages": [', b"not json at all", b"", b"\xff\xfe"]
)
def test_malformed_json_is_400_invalid_json(
    http: httpx.Client, gateway: RunningGateway, content: bytes
) -> None:
    response = http.post(CHAT, content=content, headers={"content-type": "application/json"})
    error = assert_error(response, 400, "invalid_request_error", "invalid_json")
    assert error["param"] is None
    record = record_of(gateway, response, 400, "invalid_request")
    assert record.user_id == "alice"
    assert record.attempts == ()


@pytest.mark.parametrize("document", [[1, 2], "a string", 42, None, [{"model": "m"}]])
def test_json_that_is_not_an_object_is_400_invalid_json(
    http: httpx.Client, gateway: RunningGateway, document: object
) -> None:
    response = http.post(CHAT, content=json.dumps(document).encode())
    assert_error(response, 400, "invalid_request_error", "invalid_json")
    record_of(gateway, response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": "hello"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": 5, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": ["m"], "messages": [{"role": "user", "content": "hi"}]}, "model"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
            "stream",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": 1}, "stream"),
    ],
)
def test_invalid_field_is_400_invalid_request_naming_its_param(
    http: httpx.Client,
    gateway: RunningGateway,
    tag: str,
    body: dict[str, object],
    param: str,
) -> None:
    response = http.post(CHAT, json=body, headers={"x-request-id": tag})
    error = assert_error(response, 400, "invalid_request_error", "invalid_request")
    assert error["param"] == param
    record = record_of(gateway, response, 400, "invalid_request")
    assert record.attempts == ()


def test_invalid_completions_and_embeddings_fields(
    http: httpx.Client, gateway: RunningGateway
) -> None:
    response = http.post("/v1/completions", json={"model": "m"})
    assert assert_error(response, 400, "invalid_request_error", "invalid_request")["param"] == (
        "prompt"
    )
    record_of(gateway, response, 400, "invalid_request")
    response = http.post("/v1/embeddings", json={"model": "m", "input": 3})
    assert assert_error(response, 400, "invalid_request_error", "invalid_request")["param"] == (
        "input"
    )
    record_of(gateway, response, 400, "invalid_request")


# 413 request_too_large (max_body_bytes is 16384 in the test config)


def big_body(tag: str) -> bytes:
    body = json.dumps(chat("m", f"{tag} " + "x" * 20_000)).encode()
    assert len(body) > 16384
    return body


def test_body_over_limit_with_content_length_is_413(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, content=big_body(tag))
    assert_error(response, 413, "invalid_request_error", "request_too_large")
    record_of(gateway, response, 413, "invalid_request")
    assert mock.requests(tag) == []


def test_chunked_body_over_limit_is_413(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = big_body(tag)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = http.post(CHAT, content=pieces())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "invalid_request_error", "request_too_large")
    record_of(gateway, response, 413, "invalid_request")
    assert mock.requests(tag) == []


def test_chunked_body_under_limit_is_read_whole(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    body = json.dumps(chat("demo-echo", f"{tag} " + "y " * 3000)).encode()
    assert 4096 < len(body) < 16384

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 700):
            yield body[start : start + 700]

    response = http.post(CHAT, content=pieces())
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert content.split() == [tag] + ["y"] * 3000
    record_of(gateway, response, 200, None)


# 401 invalid_api_key


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer sk-nobody"},
        {"authorization": f"Basic {ALICE_KEY}"},
        {"authorization": "Bearer"},
        {"x-api-key": "sk-nobody"},
    ],
    ids=["no-key", "unknown-bearer", "not-bearer", "empty-bearer", "unknown-x-api-key"],
)
def test_missing_or_unknown_key_is_401(
    gateway: RunningGateway, mock: MockUpstream, tag: str, headers: dict[str, str]
) -> None:
    response = httpx.post(gateway.url + CHAT, json=chat("m", tag), headers=headers, timeout=30)
    assert_error(response, 401, "authentication_error", "invalid_api_key")
    record = record_of(gateway, response, 401, "auth_error")
    assert record.user_id is None and record.key_id is None
    assert mock.requests(tag) == []


def test_x_api_key_header_is_accepted(gateway: RunningGateway, tag: str) -> None:
    response = httpx.post(
        gateway.url + CHAT,
        json=chat("demo-echo", tag),
        headers={"x-api-key": ALICE_KEY},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    record = record_of(gateway, response, 200, None)
    assert record.user_id == "alice"


def test_authorization_wins_over_x_api_key(gateway: RunningGateway, tag: str) -> None:
    good_x_bad_auth = {"x-api-key": ALICE_KEY, "authorization": "Bearer sk-nobody"}
    response = httpx.post(
        gateway.url + CHAT, json=chat("demo-echo", tag), headers=good_x_bad_auth, timeout=30
    )
    assert_error(response, 401, "authentication_error", "invalid_api_key")
    record_of(gateway, response, 401, "auth_error")

    bad_x_good_auth = {"x-api-key": "sk-nobody", **bearer(ALICE_KEY)}
    response = httpx.post(
        gateway.url + CHAT, json=chat("demo-echo", tag), headers=bad_x_good_auth, timeout=30
    )
    assert response.status_code == 200, response.text
    assert record_of(gateway, response, 200, None).user_id == "alice"

    # The user the Authorization key names is the one charged, not the x-api-key's.
    bob_x_alice_auth = {"x-api-key": BOB_KEY, **bearer(ALICE_KEY)}
    response = httpx.post(
        gateway.url + CHAT, json=chat("noretry", tag), headers=bob_x_alice_auth, timeout=30
    )
    assert response.status_code == 200, response.text
    assert record_of(gateway, response, 200, None).user_id == "alice"


def test_auth_is_checked_before_the_body(gateway: RunningGateway) -> None:
    response = httpx.post(gateway.url + CHAT, content=b"{not json", timeout=30)
    assert_error(response, 401, "authentication_error", "invalid_api_key")
    record_of(gateway, response, 401, "auth_error")


# 403 model_not_allowed, and who may use what


def test_master_key_may_use_any_model(gateway: RunningGateway, tag: str) -> None:
    for model in ("noretry", "m", "mock/mock-model", "demo/demo-echo"):
        response = httpx.post(
            gateway.url + CHAT,
            json=chat(model, f"{tag} #mock chunks=1"),
            headers=bearer(MASTER_KEY),
            timeout=30,
        )
        assert response.status_code == 200, (model, response.text)
        record = record_of(gateway, response, 200, None)
        assert record.model == model


def test_model_not_allowed_for_key_is_403(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    for model in ("noretry", "demo-echo", "mock/mock-model"):
        response = httpx.post(
            gateway.url + CHAT, json=chat(model, tag), headers=bearer(BOB_KEY), timeout=30
        )
        assert_error(response, 403, "permission_error", "model_not_allowed")
        record = record_of(gateway, response, 403, "permission_denied")
        assert (record.user_id, record.model) == ("bob", model)
        assert record.attempts == ()
    assert mock.requests(tag) == []


def test_bob_may_use_his_globs(gateway: RunningGateway, tag: str) -> None:
    response = httpx.post(
        gateway.url + CHAT,
        json=chat("demo/demo-echo", f"{tag} hello"),
        headers=bearer(BOB_KEY),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == f"{tag} hello"
    record = record_of(gateway, response, 200, None)
    assert (record.user_id, record.model, record.backend) == ("bob", "demo/demo-echo", "demo")

    response = httpx.post(
        gateway.url + CHAT, json=chat("m", tag), headers=bearer(BOB_KEY), timeout=30
    )
    assert response.status_code == 200, response.text


# 404 model_not_found


@pytest.mark.parametrize("model", ["no-such-model", "nope/x", "mock/", "/mock-model"])
def test_unknown_model_is_404(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, model: str
) -> None:
    response = http.post(CHAT, json=chat(model, tag))
    assert_error(response, 404, "invalid_request_error", "model_not_found")
    record = record_of(gateway, response, 404, "model_not_found")
    assert record.model == model and record.attempts == ()
    assert mock.requests(tag) == []


def test_backend_slash_model_reaches_an_unlisted_model(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("mock/mock-model", f"{tag} #mock chunks=2"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "w0 w1 "
    assert mock.request(tag)["model"] == "mock-model"
    record = record_of(gateway, response, 200, None)
    assert (record.model, record.resolved_model, record.backend) == (
        "mock/mock-model",
        "mock-model",
        "mock",
    )


# upstream 4xx passes through as is, and is never retried


@pytest.mark.parametrize("status", [400, 404, 422])
def test_upstream_4xx_passes_through(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, status: int
) -> None:
    response = http.post(CHAT, json=chat("noretry", f"{tag} #mock status={status}"))
    error = assert_error(response, status, "invalid_request_error", "mock_error")
    assert error["message"] == f"mock status {status}"
    assert error["param"] is None
    record = record_of(gateway, response, status, "upstream_error")
    assert [(a.backend, a.status_code) for a in record.attempts] == [("noretry", status)]
    assert len(mock.requests(tag)) == 1


def test_upstream_4xx_is_not_retried_on_a_retrying_backend(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("m", f"{tag} #mock status=400"))
    assert_error(response, 400, "invalid_request_error", "mock_error")
    record = record_of(gateway, response, 400, "upstream_error")
    assert len(record.attempts) == 1
    assert len(mock.requests(tag)) == 1


def test_upstream_4xx_passes_through_on_streams_too(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(CHAT, json=chat("noretry", f"{tag} #mock status=404", stream=True))
    assert_error(response, 404, "invalid_request_error", "mock_error")
    record = record_of(gateway, response, 404, "upstream_error")
    assert record.stream is True


def test_upstream_429_passes_through_with_retry_after(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("noretry", f"{tag} #mock status=429 retry_after=3"))
    error = assert_error(response, 429, "invalid_request_error", "mock_error")
    assert error["message"] == "mock status 429"
    assert response.headers["retry-after"] == "3"
    record = record_of(gateway, response, 429, "upstream_error")
    assert [a.status_code for a in record.attempts] == [429]
    assert len(mock.requests(tag)) == 1


# upstream 5xx / unreachable after retries and fallbacks → 502


def test_upstream_5xx_after_retries_is_502(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("m", f"{tag} #mock status=500"))
    error = assert_error(response, 502, "upstream_error", "upstream_error")
    assert error["param"] is None
    # max_retries=2 on backend mock: one try and two retries.
    assert [r["status"] for r in mock.requests(tag)] == [500, 500, 500]
    record = record_of(gateway, response, 502, "upstream_error")
    assert [(a.backend, a.model, a.status_code, a.error_type) for a in record.attempts] == [
        ("mock", "mock-model", 500, "upstream_error")
    ] * 3
    assert record.model == "m"


def test_upstream_5xx_on_a_stream_after_retries_is_502(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("m", f"{tag} #mock status=503", stream=True))
    assert_error(response, 502, "upstream_error", "upstream_error")
    assert len(mock.requests(tag)) == 3
    record = record_of(gateway, response, 502, "upstream_error")
    assert record.stream is True and len(record.attempts) == 3


def test_connection_refused_falls_back(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response = http.post(CHAT, json=chat("dead-then-m", f"{tag} #mock chunks=2"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "w0 w1 "
    record = record_of(gateway, response, 200, None)
    assert [(a.backend, a.error_type) for a in record.attempts] == [
        ("dead", "upstream_error"),
        ("dead", "upstream_error"),
        ("mock", None),
    ]
    assert record.attempts[-1].status_code == 200
    assert all(a.status_code != 200 for a in record.attempts[:2])
    assert (record.model, record.backend, record.resolved_model) == (
        "dead-then-m",
        "mock",
        "mock-model",
    )
    assert len(mock.requests(tag)) == 1


def test_unreachable_backend_without_fallback_is_502(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(CHAT, json=chat("dead/x", tag))
    assert_error(response, 502, "upstream_error", "upstream_error")
    record = record_of(gateway, response, 502, "upstream_error")
    assert [(a.backend, a.error_type) for a in record.attempts] == [
        ("dead", "upstream_error"),
        ("dead", "upstream_error"),
    ]


# 504 request_timeout before the response started


def test_non_stream_slower_than_total_is_504(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(CHAT, json=chat("short-total", f"{tag} #mock latency_ms=3000"))
    assert_error(response, 504, "timeout_error", "request_timeout")
    record = record_of(gateway, response, 504, "timeout")
    assert record.stream is False
    assert [(a.backend, a.error_type) for a in record.attempts] == [("short-total", "timeout")]


# Honoring the upstream's Retry-After between retries


def test_retry_after_is_honored_before_retrying(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    # The tag on the directive line gives this test its own fail_times count.
    response = http.post(CHAT, json=chat("m", f"#mock status=429 retry_after=1 fail_times=1 {tag}"))
    assert response.status_code == 200, response.text
    records = mock.requests(tag)
    assert [r["status"] for r in records] == [429, 200]
    # A lower bound proving the gateway waited, not a speed assertion.
    assert records[1]["started_at"] - records[0]["started_at"] >= 0.9
    record = record_of(gateway, response, 200, None)
    assert [a.status_code for a in record.attempts] == [429, 200]


# x-request-id, unknown paths and methods


def test_client_request_id_is_echoed_on_success_and_error(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(CHAT, json=chat("demo-echo", "hi"), headers={"x-request-id": tag})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == tag
    assert gateway.completion(tag).status_code == 200

    response = http.post(CHAT, json=chat("nope", "hi"), headers={"x-request-id": tag + "-err"})
    assert_error(response, 404, "invalid_request_error", "model_not_found")
    assert response.headers["x-request-id"] == tag + "-err"
    assert gateway.completion(tag + "-err").status_code == 404


def test_request_ids_are_fresh_and_unique_without_one(http: httpx.Client) -> None:
    ids = {http.post(CHAT, json=chat("demo-echo", "hi")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(ids)


def test_get_on_chat_completions_is_405(http: httpx.Client, tag: str) -> None:
    response = http.get(CHAT, headers={"x-request-id": tag})
    assert_error(response, 405, "invalid_request_error", "method_not_allowed")
    assert response.headers["x-request-id"] == tag
    assert response.headers["allow"] == "POST"


def test_post_on_models_is_405_with_allow(http: httpx.Client) -> None:
    response = http.post("/v1/models", json={})
    assert_error(response, 405, "invalid_request_error", "method_not_allowed")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/v1/nope", "/", "/v2/chat/completions"])
def test_unknown_path_is_404_json(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert_error(response, 404, "invalid_request_error", "not_found")
    response = http.post(path, json={})
    assert_error(response, 404, "invalid_request_error", "not_found")


# The openai SDK raises the exception class that matches each status


def test_sdk_raises_the_matching_exception_classes(gateway: RunningGateway, tag: str) -> None:
    def sdk(key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)

    def ask(key: str, model: str, text: str = tag, **extra: Any) -> object:
        return sdk(key).chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], **extra
        )

    cases: list[tuple[type[openai.APIStatusError], int, str | None, Any]] = [
        (openai.AuthenticationError, 401, "invalid_api_key", lambda: ask("sk-nobody", "m")),
        (openai.PermissionDeniedError, 403, "model_not_allowed", lambda: ask(BOB_KEY, "noretry")),
        (openai.NotFoundError, 404, "model_not_found", lambda: ask(ALICE_KEY, "no-such-model")),
        (
            openai.BadRequestError,
            400,
            "invalid_request",
            lambda: sdk(ALICE_KEY).chat.completions.create(model="m", messages=[]),
        ),
        (
            openai.BadRequestError,
            400,
            "mock_error",
            lambda: ask(ALICE_KEY, "noretry", f"{tag} #mock status=400"),
        ),
        (
            openai.RateLimitError,
            429,
            "mock_error",
            lambda: ask(ALICE_KEY, "noretry", f"{tag} #mock status=429 retry_after=3"),
        ),
        (
            openai.InternalServerError,
            502,
            "upstream_error",
            lambda: ask(ALICE_KEY, "noretry", f"{tag} #mock status=500"),
        ),
        (
            openai.InternalServerError,
            504,
            "request_timeout",
            lambda: ask(ALICE_KEY, "short-total", f"{tag} #mock latency_ms=3000"),
        ),
    ]
    for exc_class, status, code, call in cases:
        with pytest.raises(exc_class) as info:
            call()
        assert isinstance(info.value, openai.APIStatusError)
        assert (info.value.status_code, info.value.code) == (status, code)
        assert info.value.response.headers["x-request-id"]


def test_sdk_stream_errors_raise_before_any_chunk(client: openai.OpenAI, tag: str) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="noretry",
            messages=[{"role": "user", "content": f"{tag} #mock status=500"}],
            stream=True,
        )
    assert info.value.status_code == 502
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": tag}], stream=True
        )
