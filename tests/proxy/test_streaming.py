"""SPEC 4, point by point, over real sockets against the fault-injecting mock."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from support import MockUpstream, RunningGateway, wait_until


def chat(model: str, text: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def events(raw: str) -> list[str]:
    """The `data:` payloads and comments of an SSE body, in order."""
    out = []
    for block in raw.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append(block)
        else:
            assert block.startswith("data: "), block
            out.append(block[len("data: ") :])
    return out


def stream_raw(http: httpx.Client, body: dict[str, object]) -> tuple[httpx.Response, str]:
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        text = response.read().decode()
    return response, text


# 1. headers and unbuffered forwarding


def test_stream_headers_and_first_chunk_arrives_while_upstream_still_sleeping(
    http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat("m", f"{tag} #mock chunks=3 inter_ms=1500", stream=True)
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["x-request-id"]
        assert "x-sluicegate-overhead-ms" in response.headers
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        # The first chunk is here while the mock is still sleeping before its next chunk.
        record = mock.request(tag)
        assert record["outcome"] is None and record["chunks_sent"] == 1
        assert json.loads(first[6:])["choices"][0]["delta"]["content"] == "w0 "


# 2. the 200 is committed only at the first upstream event


def test_failure_before_first_event_is_a_json_error_not_a_200(http: httpx.Client, tag: str) -> None:
    response = http.post(
        "/v1/chat/completions", json=chat("noretry", f"{tag} #mock status=503", stream=True)
    )
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == {
        "message": "mock status 503",
        "type": "upstream_error",
        "code": "upstream_error",
        "param": None,
    }


def test_first_token_timeout_is_504_before_the_200(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(
        "/v1/chat/completions", json=chat("tight", f"{tag} #mock ttft_ms=3000", stream=True)
    )
    assert response.status_code == 504
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("timeout_error", "request_timeout")
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type, record.stream) == (504, "timeout", True)


def test_failed_first_attempt_is_retried_before_the_200(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response, raw = stream_raw(http, chat("m", f"{tag} #mock status=503 fail_times=1 id={tag}"))
    assert response.status_code == 200
    assert events(raw)[-1] == "[DONE]"
    record = gateway.completion(response.headers["x-request-id"])
    assert [(a.status_code, a.error_type) for a in record.attempts] == [
        (503, "upstream_error"),
        (200, None),
    ]
    assert len(mock.requests(tag)) == 2


# 3. [DONE] only after a clean end with events; empty upstream stream → empty 200


def test_clean_stream_ends_with_done_and_sdk_reads_it(
    client: openai.OpenAI, http: httpx.Client, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": f"{tag} #mock chunks=4"}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == "w0 w1 w2 w3 "
    _, raw = stream_raw(http, chat("m", f"{tag}b #mock chunks=2"))
    parsed = events(raw)
    assert parsed[-1] == "[DONE]" and parsed.count("[DONE]") == 1
    assert json.loads(parsed[-2])["choices"][0]["finish_reason"] == "stop"


def test_empty_upstream_stream_gives_an_empty_200_without_done(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, raw = stream_raw(http, chat("m", f"{tag} #mock empty=1"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert raw == ""
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type) == (200, None)


# 4. failure after the first event → one error event, no [DONE], no invented finish_reason


@pytest.mark.parametrize(
    ("directive", "code", "error_type"),
    [
        ("disconnect_after=2", "upstream_disconnected", "upstream_disconnected"),
        ("error_event_after=2", "upstream_disconnected", "upstream_disconnected"),
    ],
)
def test_mid_stream_upstream_failure_sends_one_error_event(
    http: httpx.Client,
    gateway: RunningGateway,
    tag: str,
    directive: str,
    code: str,
    error_type: str,
) -> None:
    response, raw = stream_raw(http, chat("m", f"{tag} #mock chunks=5 {directive}"))
    assert response.status_code == 200
    parsed = events(raw)
    assert "[DONE]" not in parsed
    assert not any('"finish_reason":"stop"' in e.replace(" ", "") for e in parsed)
    last = json.loads(parsed[-1])
    assert last == {
        "error": {"message": last["error"]["message"], "type": "upstream_error", "code": code}
    }
    assert sum(1 for e in parsed if e.startswith('{"error"')) == 1
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in parsed[:-1]]
    assert contents == ["w0 ", "w1 "]
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type, record.stream) == (200, error_type, True)
    # A broken stream is never retried: the client already has part of the answer.
    assert len(record.attempts) == 1


def test_mid_stream_failure_makes_the_openai_sdk_raise(client: openai.OpenAI, tag: str) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} #mock chunks=5 disconnect_after=2"}],
        stream=True,
    )
    seen = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["w0 ", "w1 "]


def test_idle_timeout_mid_stream(http: httpx.Client, gateway: RunningGateway, tag: str) -> None:
    response, raw = stream_raw(http, chat("tight", f"{tag} #mock chunks=3 inter_ms=3000"))
    parsed = events(raw)
    assert json.loads(parsed[0])["choices"][0]["delta"]["content"] == "w0 "
    assert json.loads(parsed[-1])["error"]["code"] == "stream_idle_timeout"
    assert "[DONE]" not in parsed
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type) == (200, "timeout")


def test_total_timeout_mid_stream(http: httpx.Client, tag: str) -> None:
    _, raw = stream_raw(http, chat("short-total", f"{tag} #mock chunks=40 inter_ms=100"))
    parsed = events(raw)
    assert json.loads(parsed[-1])["error"]["code"] == "request_timeout"
    assert "[DONE]" not in parsed


# 5. client disconnect cancels the upstream request at once


def test_client_disconnect_mid_stream_cancels_upstream(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = chat("m", f"{tag} #mock chunks=50 inter_ms=200", stream=True)
    headers = {"authorization": "Bearer sk-alice-test-key"}
    with httpx.Client(base_url=gateway.url, timeout=10) as raw_client:
        with raw_client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            request_id = r.headers["x-request-id"]
            next(line for line in r.iter_lines() if line.startswith("data: "))
        closed_at = time.time()
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected"
    assert record["ended_at"] - closed_at < 1.0
    assert record["chunks_sent"] < 50
    completion = gateway.completion(request_id)
    assert (completion.status_code, completion.error_type, completion.stream) == (
        200,
        "client_disconnected",
        True,
    )


def test_client_disconnect_before_first_event_is_499(
    gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = chat("m", f"{tag} #mock ttft_ms=5000", stream=True)
    headers = {"authorization": "Bearer sk-alice-test-key", "x-request-id": tag}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=0.5)
    record = wait_until(lambda: [x for x in mock.requests(tag) if x["outcome"]])[0]
    assert record["outcome"] == "client_disconnected"
    completion = gateway.completion(tag)
    assert (completion.status_code, completion.error_type) == (499, "client_disconnected")


# 6. usage is asked upstream; the usage-only chunk is forwarded only if the client asked


def test_usage_requested_upstream_and_hidden_unless_asked(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    response, raw = stream_raw(http, chat("m", f"{tag} #mock chunks=3"))
    assert mock.request(tag)["body"]["stream_options"] == {"include_usage": True}
    parsed = [json.loads(e) for e in events(raw)[:-1]]
    assert all(chunk["choices"] for chunk in parsed)
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.usage.completion_tokens, record.usage.prompt_tokens) == (3, 3)

    response, raw = stream_raw(
        http, chat("m", f"{tag}x #mock chunks=3", stream_options={"include_usage": True})
    )
    parsed = [json.loads(e) for e in events(raw)[:-1]]
    assert parsed[-1]["choices"] == [] and parsed[-1]["usage"]["completion_tokens"] == 3


def test_sdk_stream_with_include_usage_gets_usage(client: openai.OpenAI, tag: str) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"{tag} #mock chunks=2"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [c.usage for c in stream if c.usage]
    assert len(usage) == 1 and usage[0].completion_tokens == 2


# 7. keep-alive comments during silences after the 200


def test_keepalive_comment_during_silence(http: httpx.Client, tag: str) -> None:
    _, raw = stream_raw(http, chat("m", f"{tag} #mock chunks=2 inter_ms=1200"))
    parsed = events(raw)
    first_data = next(i for i, e in enumerate(parsed) if e.startswith("{"))
    assert ": keep-alive" in parsed[first_data:]
    assert parsed[-1] == "[DONE]"


# An upstream reset before the first byte is an upstream failure, never a client disconnect.


def test_reset_before_first_byte_is_502_not_client_disconnect(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response = http.post(
        "/v1/chat/completions", json=chat("noretry", f"{tag} #mock reset_before=1", stream=True)
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    record = gateway.completion(response.headers["x-request-id"])
    assert (record.status_code, record.error_type) == (502, "upstream_error")


def test_reset_before_first_byte_is_retried(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    response, raw = stream_raw(http, chat("m", f"{tag} #mock reset_before=1 fail_times=1 id={tag}"))
    assert response.status_code == 200 and events(raw)[-1] == "[DONE]"
    record = gateway.completion(response.headers["x-request-id"])
    assert len(record.attempts) == 2
