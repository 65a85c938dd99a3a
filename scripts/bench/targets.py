"""What a load generator is pointed at (a Target: port, path, body, credentials), and the
single requests that prove a target answers as expected before it is measured."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from typing import Any

from settings import ANTHROPIC_VERSION, CLAUDE_MODEL, MESSAGES_PATH, PATH, PROMPT


@dataclass
class Target:
    name: str  # "direct" or "gateway"
    port: int
    model: str
    key: str  # sent as a bearer key when set
    path: str = PATH
    body: str = ""  # the whole body, instead of chat.lua's chat body for `model`
    headers: dict[str, str] = field(default_factory=dict)


def send(target: Target) -> bytes:
    """`target.body` once, with the headers wrk sends; exits on a non-2xx answer."""
    headers = {"Content-Type": "application/json", **target.headers}
    if target.key:
        headers["Authorization"] = f"Bearer {target.key}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{target.port}{target.path}", data=target.body.encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        reply = exc.read()[:300]
        sys.exit(f"bench: {target.name} {target.path} answered HTTP {exc.code}: {reply!r}")


def expect_answer(target: Target) -> None:
    """`target.body` must be answered with the mock's default text (3 words)."""
    answer = send(target)
    if b'"w0 w1 w2 ' not in answer:
        sys.exit(f"bench: unexpected answer from {target.name} {target.path}: {answer[:300]!r}")


def sanity_check(target: Target) -> None:
    """One non-stream and one stream request must succeed before anything is measured."""
    for stream in (False, True):
        body = json.dumps(
            {
                "model": target.model,
                "messages": [{"role": "user", "content": "hello #mock chunks=2"}],
                "stream": stream,
            }
        )
        payload = send(replace(target, body=body))
        ok = b"data: [DONE]" in payload if stream else b'"w0 w1 "' in payload
        if not ok:
            sys.exit(f"bench: unexpected answer from {target.name}: {payload[:300]!r}")


def anthropic_targets(gateway: Target) -> dict[str, Target]:
    """The gateway side of the two anthropic paths, each with the body wrk sends."""

    def body(**fields: Any) -> str:
        return json.dumps({"model": CLAUDE_MODEL, **fields}, separators=(",", ":"))

    messages = [{"role": "user", "content": PROMPT}]
    return {
        "chat_anthropic": replace(gateway, body=body(messages=messages, max_tokens=32)),
        # as the Anthropic SDK sends it: the key in x-api-key, no Authorization
        "messages_anthropic": replace(
            gateway,
            key="",
            path=MESSAGES_PATH,
            body=body(max_tokens=32, messages=messages),
            headers={"x-api-key": gateway.key, "anthropic-version": ANTHROPIC_VERSION},
        ),
    }


def as_forwarded(gateway: Target, mock_port: int) -> Target:
    """The direct twin of `gateway`: one request through the gateway, then the body, path
    and credentials the mock recorded for it, to be sent to the mock as they are."""
    url = f"http://127.0.0.1:{mock_port}/_mock/requests"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass
    expect_answer(gateway)
    with urllib.request.urlopen(url, timeout=10) as resp:
        records = json.load(resp)["requests"]
    if len(records) != 1:
        sys.exit(f"bench: expected the mock to see one request, it saw {len(records)}")
    seen = records[0]
    credentials = ("x-api-key", "anthropic-version", "authorization")
    direct = Target(
        "direct",
        mock_port,
        seen["model"],
        "",
        path=seen["path"],
        body=json.dumps(seen["body"], separators=(",", ":"), ensure_ascii=False),
        headers={name: seen["headers"][name] for name in credentials if name in seen["headers"]},
    )
    expect_answer(direct)
    return direct
