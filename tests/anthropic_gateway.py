"""A gateway with `anthropic` backends on the session mock, for the Anthropic test files.

Models: `claude` (retries 2, priced), `claude-noretry`, `claude-tight` (short timeouts),
`claude-then-gpt` (an anthropic target with an openai fallback), `gpt` (the openai mock),
`demo-echo`. Users: alice (`*`) and scribe (`*`, detail logging), keys as in `support`.
"""

from __future__ import annotations

from pathlib import Path

from sluicegate.config.schema import GatewayConfig
from support import ALICE_KEY, MASTER_KEY, NEVER_COOL, SCRIBE_KEY, UPSTREAM_KEY, RunningGateway

CLAUDE = "claude-x"  # the upstream model name the anthropic targets ask for


def _backend(name: str, kind: str, url: str, retries: int, **timeouts: float) -> dict[str, object]:
    return {
        "name": name,
        "type": kind,
        "base_url": url,
        "api_key": UPSTREAM_KEY,
        "max_retries": retries,
        "timeouts": {"connect": 2, "first_token": 5, "idle": 5, "total": 20, **timeouts},
        "cooldown": NEVER_COOL,
    }


def anthropic_config(mock_url: str, folder: Path) -> GatewayConfig:
    tight = {"first_token": 0.5, "idle": 0.5, "total": 1.5}
    return GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            "server": {"master_key": MASTER_KEY, "keepalive_seconds": 0.3},
            "backends": [
                _backend("claude", "anthropic", mock_url, 2),
                _backend("claude-noretry", "anthropic", mock_url, 0),
                _backend("claude-fb", "anthropic", mock_url, 0),  # only claude-then-gpt uses it
                _backend("claude-tight", "anthropic", mock_url, 0, **tight),
                _backend("mock", "openai", mock_url + "/v1", 0),
                _backend("mock-tight", "openai", mock_url + "/v1", 0, **tight),
                {"name": "demo", "type": "demo"},
            ],
            "models": [
                {
                    "name": "claude",
                    "targets": [{"backend": "claude", "model": CLAUDE}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                },
                {
                    "name": "claude-noretry",
                    "targets": [{"backend": "claude-noretry", "model": CLAUDE}],
                },
                {"name": "claude-tight", "targets": [{"backend": "claude-tight", "model": CLAUDE}]},
                {
                    "name": "claude-then-gpt",
                    "targets": [{"backend": "claude-fb", "model": CLAUDE}],
                    "fallbacks": ["gpt"],
                },
                {
                    "name": "gpt",
                    "targets": [{"backend": "mock", "model": "mock-model"}],
                    "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                },
                {
                    "name": "gpt-tight",
                    "targets": [{"backend": "mock-tight", "model": "mock-model"}],
                },
                {"name": "demo-echo", "targets": [{"backend": "demo", "model": "demo-echo"}]},
            ],
            "users": [
                {"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]},
                {
                    "name": "scribe",
                    "api_keys": [SCRIBE_KEY],
                    "models": ["*"],
                    "detail_logging": True,
                },
            ],
        }
    )


def start(mock_url: str, folder: Path) -> RunningGateway:
    return RunningGateway(anthropic_config(mock_url, folder))
