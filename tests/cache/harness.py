"""Gateways with the response cache on, over the session mock: the session gateway's backends,
models and users (tests/conftest.py), an `anthropic` backend for /v1/messages (model `claude`),
an openai backend with `responses: native` (model `native`), and users whose limits show what
a hit is charged. Plus small helpers to read an answer's cache header."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from conftest import gateway_config, sqlite_url
from sluicegate.config.schema import GatewayConfig
from support import NEVER_COOL, UPSTREAM_KEY

HEADER = "x-sluicegate-cache"
RPM_KEY = "sk-cache-rpm-key"  # rpm 3
TPM_KEY = "sk-cache-tpm-key"  # tpm 10
BUDGET_KEY = "sk-cache-budget-key"  # budget 0.000015 USD


def cache_config(
    mock_url: str, folder: Path, redis_url: str | None = None, **cache: Any
) -> GatewayConfig:
    config = gateway_config(mock_url, sqlite_url(folder))
    base = config.model_dump(by_alias=True, exclude_unset=True)
    claude = {
        "name": "claude",
        "type": "anthropic",
        "base_url": mock_url,
        "api_key": UPSTREAM_KEY,
        "max_retries": 0,
        "cooldown": NEVER_COOL,
    }
    native = {
        "name": "native",
        "type": "openai",
        "base_url": mock_url + "/v1",
        "api_key": UPSTREAM_KEY,
        "responses": "native",
        "max_retries": 0,
        "cooldown": NEVER_COOL,
    }
    target = {"backend": "claude", "model": "claude-x"}
    native_model = {"name": "native", "targets": [{"backend": "native", "model": "mock-model"}]}
    users = [
        {"name": "rpm-capped", "api_keys": [RPM_KEY], "models": ["*"], "rpm": 3},
        {"name": "tpm-capped", "api_keys": [TPM_KEY], "models": ["*"], "tpm": 10},
        {"name": "budget-capped", "api_keys": [BUDGET_KEY], "models": ["*"], "budget_usd": 1.5e-5},
    ]
    return GatewayConfig.model_validate(
        {
            **base,
            "backends": [*base["backends"], claude, native],
            "models": [*base["models"], {"name": "claude", "targets": [target]}, native_model],
            "users": [*base["users"], *users],
            "redis": {"url": redis_url},
            "cache": {"mode": "memory", **cache},
        }
    )


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


def sse_data(raw: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    return re.findall(r"^data: (.*)$", raw, flags=re.M)


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, data object) pairs of an SSE body with `event:` lines."""
    pairs = re.findall(r"^event: (.*)\ndata: (.*)$", raw, flags=re.M)
    return [(name, json.loads(data)) for name, data in pairs]


def metric(client: httpx.Client, result: str) -> float:
    text = client.get("/metrics").text
    pattern = rf'^sluicegate_cache_requests_total\{{result="{result}"\}} (\S+)$'
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0
