"""SPEC 4.9 on /v1/chat/completions: a stream broken after text was sent is continued on the
next target, in the same client stream, with nothing lost or repeated."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from support import MockUpstream, RunningGateway, wait_until

from .helpers import logged


def chat(model: str, text: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def stream(http: httpx.Client, body: dict[str, object]) -> tuple[str, list[str]]:
    """The request id and the SSE blocks (`data:` payloads, `:` comments) of one stream."""
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    blocks = []
    for block in raw.split("\n\n"):
        if block:
            blocks.append(block if block.startswith(":") else block.removeprefix("data: "))
    return response.headers["x-request-id"], blocks


def chunks(blocks: list[str]) -> list[dict[str, Any]]:
    return [json.loads(b) for b in blocks if b.startswith("{") and '"choices"' in b]


def text_of(parsed: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed if c["choices"])


def words(first: int, end: int) -> str:
    return "".join(f"w{i} " for i in range(first, end))


def assert_one_answer(blocks: list[str], expected: str) -> list[dict[str, Any]]:
    """One role chunk, one id, the whole text once, one finish, then [DONE]."""
    parsed = chunks(blocks)
    assert text_of(parsed) == expected
    roles = [c for c in parsed if c["choices"] and "role" in c["choices"][0]["delta"]]
    assert len(roles) == 1 and roles[0] is parsed[0]
    assert len({c["id"] for c in parsed}) == 1
    assert len({c["model"] for c in parsed}) == 1
    finishes = [c["choices"][0]["finish_reason"] for c in parsed if c["choices"]]
    assert [f for f in finishes if f] == ["stop"]
    assert blocks[-1] == "[DONE]"
    assert not any('"error"' in b for b in blocks)
    return parsed


@pytest.mark.parametrize(
    "fault",
    [
        "disconnect_after=1",  # at the first event
        "disconnect_after=4",  # in the middle
        "disconnect_after=8",  # after the last word, before the finish chunk
        "error_event_after=3",  # a retryable upstream error event
    ],
)
def test_broken_stream_is_continued_on_the_next_target(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str, fault: str
) -> None:
    request_id, blocks = stream(
        http, chat("resumable", f"{tag} #mock chunks=8 {fault} fault_model=rep-a")
    )
    assert_one_answer(blocks, words(0, 8))
    sent = int(fault.rpartition("=")[2])
    first, second = sorted(mock.requests(tag), key=lambda r: r["seq"])
    assert (first["model"], second["model"]) == ("rep-a", "rep-b")
    # The continuation: the original request plus the text so far as the assistant's message.
    messages = second["body"]["messages"]
    assert messages[:-1] == first["body"]["messages"]
    assert messages[-1] == {"role": "assistant", "content": words(0, sent)}
    assert "continue_final_message" not in second["body"]
    record = gateway.completion(request_id)
    assert (record.status_code, record.error_type, record.resumed) == (200, None, True)
    assert record.backend == "r2"
    assert [(a.backend, a.status_code, a.error_type) for a in record.attempts] == [
        ("r1", 200, "upstream_disconnected"),
        ("r2", 200, None),
    ]


def test_openai_sdk_reads_one_stitched_answer(client: openai.OpenAI, tag: str) -> None:
    answer = client.chat.completions.create(
        model="resumable",
        messages=[
            {
                "role": "user",
                "content": f"{tag} #mock chunks=6 disconnect_after=3 fault_model=rep-a",
            }
        ],
        stream=True,
    )
    seen = list(answer)
    assert "".join(c.choices[0].delta.content or "" for c in seen if c.choices) == words(0, 6)
    assert len({c.id for c in seen}) == 1
    assert [c.choices[0].delta.role for c in seen if c.choices].count("assistant") == 1


def test_an_echoed_prefix_is_trimmed(http: httpx.Client, mock: MockUpstream, tag: str) -> None:
    _, blocks = stream(
        http, chat("resumable", f"{tag} #mock chunks=7 disconnect_after=3 fault_model=rep-a echo=1")
    )
    assert_one_answer(blocks, words(0, 7))
    continuation = max(mock.requests(tag), key=lambda r: r["seq"])
    assert continuation["chunks_sent"] == 2 + 4  # the echo in two pieces, then w3..w6


def test_a_continuation_that_breaks_goes_on_to_the_next_target(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    directive = f"{tag} #mock chunks=8 disconnect_after=3 fault_model=rep-a,rep-b"
    request_id, blocks = stream(http, chat("resumable", directive))
    assert_one_answer(blocks, words(0, 8))
    record = gateway.completion(request_id)
    assert [(a.backend, a.error_type) for a in record.attempts] == [
        ("r1", "upstream_disconnected"),
        ("r2", "upstream_disconnected"),
        ("r3", None),
    ]


def test_when_every_try_breaks_the_client_gets_one_error_event(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    directive = f"{tag} #mock chunks=12 disconnect_after=3 fault_model=rep-a,rep-b,rep-c"
    request_id, blocks = stream(http, chat("resumable", directive))
    assert text_of(chunks(blocks)) == words(0, 9)  # 3 tries of 3 words: 2 resumes allowed
    errors = [b for b in blocks if b.startswith('{"error"')]
    assert len(errors) == 1 and blocks[-1] == errors[0]
    assert json.loads(errors[0])["error"]["code"] == "upstream_disconnected"
    assert "[DONE]" not in blocks
    assert len(mock.requests(tag)) == 3
    record = gateway.completion(request_id)
    assert (record.status_code, record.error_type, record.resumed) == (
        200,
        "upstream_disconnected",
        True,
    )
    assert len(record.attempts) == 3


@pytest.mark.parametrize(
    ("model", "directive", "extra"),
    [
        ("resumable", "tools=1 disconnect_after=2", {}),  # a tool call in flight
        ("resumable", "reasoning=1 disconnect_after=2", {}),  # reasoning in flight
        ("resumable", "disconnect_after=2", {"n": 2}),
        ("resumable", "disconnect_after=2", {"logprobs": True}),
        ("off", "disconnect_after=2", {}),  # stream_resume_attempts 0
    ],
)
def test_not_resumed_then_spec_4_4_applies(
    http: httpx.Client,
    gateway: RunningGateway,
    mock: MockUpstream,
    tag: str,
    model: str,
    directive: str,
    extra: dict[str, object],
) -> None:
    body = chat(model, f"{tag} #mock chunks=6 {directive} fault_model=rep-a", **extra)
    request_id, blocks = stream(http, body)
    assert json.loads(blocks[-1])["error"]["code"] == "upstream_disconnected"
    assert "[DONE]" not in blocks
    assert len(mock.requests(tag)) == 1
    record = gateway.completion(request_id)
    assert (record.error_type, record.resumed, len(record.attempts)) == (
        "upstream_disconnected",
        False,
        1,
    )


def test_idle_timeout_is_resumed(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    # `slow` has idle 0.5 s: its pause after w0 breaks it; r2 (idle 5 s) continues.
    request_id, blocks = stream(http, chat("idle", f"{tag} #mock chunks=3 inter_ms=800"))
    assert_one_answer(blocks, words(0, 3))
    record = gateway.completion(request_id)
    assert [(a.backend, a.error_type) for a in record.attempts] == [
        ("slow", "timeout"),
        ("r2", None),
    ]
    first = min(mock.requests(tag), key=lambda r: r["seq"])
    assert first["outcome"] == "client_disconnected"  # closed by the gateway at the switch


def test_keepalives_while_switching(http: httpx.Client, tag: str) -> None:
    body = chat(
        "resumable",
        f"{tag} #mock chunks=5 disconnect_after=2 fault_model=rep-a continue_ttft_ms=1500",
    )
    _, blocks = stream(http, body)
    assert_one_answer(blocks, words(0, 5))
    w1 = next(i for i, b in enumerate(blocks) if '"w1 "' in b)
    w2 = next(i for i, b in enumerate(blocks) if '"w2 "' in b)
    assert ": keep-alive" in blocks[w1:w2]


def test_the_new_targets_first_token_timeout_bounds_the_switch(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    # r3's first_token is 1 s; its continuation would wait 3 s: it fails, the break stands.
    body = chat(
        "to-c", f"{tag} #mock chunks=5 disconnect_after=2 fault_model=rep-a continue_ttft_ms=3000"
    )
    request_id, blocks = stream(http, body)
    assert text_of(chunks(blocks)) == words(0, 2)
    assert json.loads(blocks[-1])["error"]["code"] == "upstream_disconnected"
    record = gateway.completion(request_id)
    assert [(a.backend, a.status_code, a.error_type) for a in record.attempts] == [
        ("r1", 200, "upstream_disconnected"),
        ("r3", 504, "timeout"),
    ]
    assert record.resumed


def test_client_disconnect_during_the_switch_cancels_both_upstreams(
    gateway: RunningGateway, http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat("idle", f"{tag} #mock chunks=4 inter_ms=1500 continue_ttft_ms=2500", stream=True)
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()
        next(line for line in lines if '"w0 "' in line)
        # The switch is under way once the continuation reached the mock.
        wait_until(lambda: len(mock.requests(tag)) == 2)
    records = wait_until(
        lambda: (found := mock.requests(tag)) and all(r["outcome"] for r in found) and found
    )
    assert [r["outcome"] for r in sorted(records, key=lambda r: r["seq"])] == [
        "client_disconnected",
        "client_disconnected",
    ]
    record = gateway.completion(request_id)
    assert (record.error_type, record.resumed) == ("client_disconnected", True)


def test_usage_and_cost_are_summed_over_the_tries(
    http: httpx.Client, gateway: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    text = f"{tag} #mock chunks=6 disconnect_after=2 fault_model=rep-a"
    body = chat("resumable", text, stream_options={"include_usage": True})
    request_id, blocks = stream(http, body)
    reported = [c["usage"] for c in chunks(blocks) if c.get("usage")][-1]
    record = gateway.completion(request_id)
    usage = record.usage
    # The client's usage chunk is the sum over the tries, as the log row.
    assert (reported["prompt_tokens"], reported["completion_tokens"]) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert reported["total_tokens"] == usage.total_tokens
    # The continuation's own: the prefix counts as input (2 more words), 4 words out.
    words_in = len(text.split())
    continuation_prompt = words_in + 2
    first_prompt = usage.prompt_tokens - continuation_prompt
    assert first_prompt > 0  # the broken try's prompt, estimated (it reported no usage)
    assert usage.completion_tokens == 2 + 4  # the broken try's 2 chunks, then 4
    assert usage.estimated
    cost_a = (first_prompt * 1.0 + 2 * 2.0) / 1e6
    cost_b = (continuation_prompt * 10.0 + 4 * 20.0) / 1e6
    assert record.cost_usd == pytest.approx(cost_a + cost_b)


def test_continue_final_message_switch(http: httpx.Client, mock: MockUpstream, tag: str) -> None:
    _, blocks = stream(
        http, chat("to-vllm", f"{tag} #mock chunks=5 disconnect_after=2 fault_model=rep-a")
    )
    assert_one_answer(blocks, words(0, 5))
    continuation = max(mock.requests(tag), key=lambda r: r["seq"])
    assert continuation["model"] == "rep-v"
    assert continuation["body"]["continue_final_message"] is True
    assert continuation["body"]["add_generation_prompt"] is False
    assert continuation["body"]["messages"][-1] == {"role": "assistant", "content": words(0, 2)}


def test_anthropic_prefill_continues_without_trailing_whitespace(
    http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    _, blocks = stream(
        http, chat("to-claude", f"{tag} #mock chunks=5 disconnect_after=3 fault_model=rep-a")
    )
    # The prefill is "w0 w1 w2" (Anthropic refuses trailing whitespace); the mock's " w3 "
    # loses the space the client already has.
    assert_one_answer(blocks, words(0, 5))
    continuation = max(mock.requests(tag), key=lambda r: r["seq"])
    assert continuation["path"] == "/v1/messages"
    assert continuation["body"]["messages"][-1]["role"] == "assistant"
    content = continuation["body"]["messages"][-1]["content"]
    assert "w0 w1 w2" in json.dumps(content) and "w2 " not in json.dumps(content)


def test_metrics_count_resumes(http: httpx.Client, gateway: RunningGateway, tag: str) -> None:
    def count(result: str) -> float:
        body = httpx.get(gateway.url + "/metrics", timeout=10).text
        prefix = f'sluicegate_stream_resumes_total{{model="resumable",result="{result}"}} '
        line = next((line for line in body.splitlines() if line.startswith(prefix)), None)
        return float(line.split()[-1]) if line else 0.0

    before_ok, before_failed = count("completed"), count("failed")
    request_id, _ = stream(
        http, chat("resumable", f"{tag}a #mock chunks=4 disconnect_after=2 fault_model=rep-a")
    )
    gateway.completion(request_id)
    request_id, _ = stream(
        http,
        chat(
            "resumable", f"{tag}b #mock chunks=12 disconnect_after=1 fault_model=rep-a,rep-b,rep-c"
        ),
    )
    gateway.completion(request_id)
    wait_until(lambda: count("completed") == before_ok + 1 and count("failed") == before_failed + 1)


def test_the_request_log_row_says_resumed_and_lists_every_try(
    http: httpx.Client, gateway: RunningGateway, tag: str
) -> None:
    body = chat("resumable", f"{tag} #mock chunks=6 disconnect_after=2 fault_model=rep-a")
    request_id, _ = stream(http, body)
    row = logged(gateway, request_id)
    assert (row["resumed"], row["error_type"], row["backend"]) == (True, None, "r2")
    assert [(a["backend"], a["status_code"], a["error_type"]) for a in row["attempts"]] == [
        ("r1", 200, "upstream_disconnected"),
        ("r2", 200, None),
    ]
    assert row["completion_tokens"] == 2 + 4
