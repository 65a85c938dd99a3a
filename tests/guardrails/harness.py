"""A gateway with guardrails on the session mock, for the tests of this folder.

Guardrails: `no-secrets` (regex block, input), `pii` (pii mask, input, all four entities),
`size` (max_input_tokens 50), `out-block` (regex block on output), `out-pii` (pii mask on
output), `mock-words` (regex block on output matching the mock's "w1 w2", split across its
chunks "w1 " and "w2 ").

Models: `m` (mock, input guardrails), `echo` (demo echo, output guardrails), `m-all` (mock, no
`guardrails:` = all of them), `m-none` (`guardrails: []`), `m-words`, `claude-words` (anthropic
native), `native-words` (Responses native), each with `mock-words` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from anthropic_gateway import _backend
from sluicegate.config.schema import GatewayConfig
from support import ALICE_KEY, MASTER_KEY, SCRIBE_KEY, wait_until

INPUT = ["no-secrets", "pii", "size"]
SECRET = "sk-" + "A1b2C3d4" * 3  # what `no-secrets` blocks


def guardrails() -> list[dict[str, Any]]:
    return [
        {
            "name": "no-secrets",
            "type": "regex",
            "pattern": "sk-[A-Za-z0-9]{20,}",
            "action": "block",
            "on": "input",
        },
        {
            "name": "pii",
            "type": "pii",
            "entities": ["email", "phone", "credit_card", "iban"],
            "action": "mask",
            "on": "input",
        },
        {"name": "size", "type": "max_input_tokens", "limit": 50},
        {
            "name": "out-block",
            "type": "regex",
            "pattern": r"forbidden\s+phrase",
            "action": "block",
            "on": "output",
        },
        {"name": "out-pii", "type": "pii", "entities": ["email"], "action": "mask", "on": "output"},
        {"name": "mock-words", "type": "regex", "pattern": "w1 w2", "on": "output"},
    ]


def guarded_config(mock_url: str, folder: Path, **extra: Any) -> GatewayConfig:
    def model(name: str, backend: str, names: list[str] | None, upstream: str = "mock-model"):
        entry: dict[str, Any] = {"name": name, "targets": [{"backend": backend, "model": upstream}]}
        if names is not None:
            entry["guardrails"] = names
        return entry

    return GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "server": {"master_key": MASTER_KEY},
            "backends": [
                _backend("mock", "openai", mock_url + "/v1", 0),
                {**_backend("native", "openai", mock_url + "/v1", 0), "responses": "native"},
                _backend("claude", "anthropic", mock_url, 0),
                {"name": "demo", "type": "demo"},
            ],
            "models": [
                model("m", "mock", INPUT),
                model("echo", "demo", ["out-block", "out-pii"], "demo-echo"),
                model("m-all", "mock", None),
                model("m-none", "mock", []),
                model("m-words", "mock", ["mock-words"]),
                model("claude-words", "claude", ["mock-words"], "claude-x"),
                model("native-words", "native", ["mock-words"]),
            ],
            "users": [
                {"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]},
                {"name": "scribe", "api_keys": [SCRIBE_KEY], "models": ["*"]}
                | {"detail_logging": True},
            ],
            "guardrails": guardrails(),
            **extra,
        }
    )


def logged_row(url: str, request_id: str) -> dict[str, Any]:
    """The request's row, read back through the admin API once the log writer stored it."""

    def row() -> dict[str, Any] | None:
        response = httpx.get(
            f"{url}/admin/analytics/requests/{request_id}",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            timeout=10,
        )
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = wait_until(row)
    return found


def sse_data(response: httpx.Response) -> list[Any]:
    """The JSON of every `data:` line of an SSE response (`[DONE]` as the string)."""
    events: list[Any] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[6:]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def error_of(response: httpx.Response) -> tuple[int, str, str | None]:
    """(status, type, code) of an OpenAI-envelope error."""
    error = response.json()["error"]
    return response.status_code, error["type"], error["code"]
