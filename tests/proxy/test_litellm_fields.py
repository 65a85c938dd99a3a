"""What LiteLLM's clients send besides OpenAI's fields (proxy/validation.py `with_model`):
`user` goes upstream, `metadata` is accepted and kept from upstreams that refuse it without
`store`, and LiteLLM's `x-litellm-*` headers are accepted (SPEC 11)."""

from __future__ import annotations

import httpx
import openai

from support import MockUpstream


def test_metadata_user_and_tag_headers_are_accepted(
    client: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    reply = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"hi {tag}"}],
        user="end-user-7",
        extra_body={"metadata": {"tags": ["team-a"], "trace_id": "t-1"}},
        extra_headers={"x-litellm-tags": "a,b", "x-litellm-enable-message-redaction": "true"},
    )
    assert reply.choices[0].message.content
    body = mock.request(tag)["body"]
    assert body["user"] == "end-user-7"
    assert "metadata" not in body


def test_metadata_is_dropped_from_streams_too(
    client: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"#mock chunks=2 {tag}"}],
        stream=True,
        extra_body={"metadata": {"generation_name": "g"}},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "metadata" not in mock.request(tag)["body"]


def test_metadata_goes_upstream_with_store(
    client: openai.OpenAI, mock: MockUpstream, tag: str
) -> None:
    client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"hi {tag}"}],
        store=True,
        metadata={"purpose": "eval"},
    )
    body = mock.request(tag)["body"]
    assert (body["store"], body["metadata"]) == (True, {"purpose": "eval"})


def test_embeddings_and_completions_drop_metadata(
    http: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    embedded = http.post(
        "/v1/embeddings", json={"model": "m", "input": f"x {tag}e", "metadata": {"k": "v"}}
    )
    assert embedded.status_code == 200, embedded.text
    assert "metadata" not in mock.request(f"{tag}e")["body"]
    completed = http.post(
        "/v1/completions", json={"model": "m", "prompt": f"x {tag}c", "metadata": {"k": "v"}}
    )
    assert completed.status_code == 200, completed.text
    assert "metadata" not in mock.request(f"{tag}c")["body"]
