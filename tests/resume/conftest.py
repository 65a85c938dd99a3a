"""A gateway whose models can resume broken streams (SPEC 4.9), on the session mock.

Every target is a backend of its own pointing at the same mock, with its own upstream model
name, so `#mock fault_model=rep-a` breaks a stream on the first target only. Targets are
reached in a fixed order through fallbacks (resumable → resumable-b → resumable-c), never by
a random strategy, so each test knows which target breaks and which continues. The `claude*`
models do the same with anthropic backends (Anthropic's own events on /v1/messages), `gem-*`
and `az-*` with gemini and azure backends. The `http`
and `client` fixtures of tests/conftest.py reach this gateway (it overrides `gateway`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sluicegate.config.schema import GatewayConfig
from support import ALICE_KEY, MASTER_KEY, NEVER_COOL, UPSTREAM_KEY, MockUpstream, RunningGateway

PRICE_A = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
PRICE_B = {"input_per_mtok": 10.0, "output_per_mtok": 20.0}


def resume_config(mock_url: str, database_url: str) -> GatewayConfig:
    def backend(name: str, first_token: float = 3, idle: float = 5, **extra: object) -> dict:
        return {
            "name": name,
            "type": "openai",
            "base_url": mock_url + "/v1",
            "api_key": UPSTREAM_KEY,
            "max_retries": 0,
            "timeouts": {"connect": 2, "first_token": first_token, "idle": idle, "total": 30},
            "cooldown": NEVER_COOL,
            **extra,
        }

    def claude(name: str) -> dict:
        return {
            "name": name,
            "type": "anthropic",
            "base_url": mock_url,
            "api_key": UPSTREAM_KEY,
            "max_retries": 0,
            "cooldown": NEVER_COOL,
        }

    def other(name: str, kind: str) -> dict:
        """A backend of another type on the mock (it speaks Gemini's and Azure's wires too)."""
        return {**claude(name), "type": kind, "timeouts": {"connect": 2, "idle": 5, "total": 30}}

    def model(name: str, target: tuple[str, str], *fallbacks: str, **extra: object) -> dict:
        backend_name, upstream = target
        return {
            "name": name,
            "targets": [{"backend": backend_name, "model": upstream}],
            "fallbacks": list(fallbacks),
            **extra,
        }

    a, b, c = ("r1", "rep-a"), ("r2", "rep-b"), ("r3", "rep-c")
    return GatewayConfig.model_validate(
        {
            "database": {"url": database_url},
            "server": {"master_key": MASTER_KEY, "keepalive_seconds": 0.3},
            "backends": [
                backend("r1"),
                backend("r2"),
                backend("r3", first_token=1),
                backend("slow", idle=0.5),
                backend("vllm", continue_final_message=True),
                claude("claude"),
                claude("claude2"),
                claude("claude3"),
                backend("native", responses="native"),
                backend("native2", responses="native"),
                other("gm1", "gemini"),
                other("gm2", "gemini"),
                other("az1", "azure"),
                other("az2", "azure"),
            ],
            "models": [
                model(
                    "resumable",
                    a,
                    "resumable-b",
                    "resumable-c",
                    stream_resume_attempts=2,
                    pricing=PRICE_A,
                ),
                model("resumable-b", b, pricing=PRICE_B),
                model("resumable-c", c),
                model("off", a, "resumable-b"),
                model("idle", ("slow", "rep-a"), "resumable-b", stream_resume_attempts=1),
                model("to-c", a, "resumable-c", stream_resume_attempts=1),
                model("to-vllm", a, "vllm-m", stream_resume_attempts=1),
                model("vllm-m", ("vllm", "rep-v")),
                model("to-claude", a, "claude-m", stream_resume_attempts=1),
                model("claude-m", ("claude", "claude-x")),
                model(
                    "claude-first", ("claude", "claude-x"), "resumable-b", stream_resume_attempts=1
                ),
                # Anthropic's own events, continued on anthropic targets (splice_anthropic.py).
                model(
                    "claude-resumable",
                    ("claude", "claude-x"),
                    "claude-b",
                    "claude-c",
                    stream_resume_attempts=2,
                    pricing=PRICE_A,
                ),
                model("claude-b", ("claude2", "claude-y"), pricing=PRICE_B),
                model("claude-c", ("claude3", "claude-z")),
                # Responses' own events: continued through chat (splice_responses.py).
                model(
                    "native-first",
                    ("native", "resp-a"),
                    "native-b",
                    stream_resume_attempts=1,
                    pricing=PRICE_A,
                ),
                model("native-b", ("native2", "resp-b")),
                # Gemini's and Azure's chat streams: continued through the chat path.
                model("gem-first", ("gm1", "gem-a"), "gem-b", stream_resume_attempts=1),
                model("gem-b", ("gm2", "gem-b")),
                model("az-first", ("az1", "az-a"), "az-b", stream_resume_attempts=1),
                model("az-b", ("az2", "az-b")),
            ],
            "users": [{"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]}],
        }
    )


@pytest.fixture(scope="package")
def gateway(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("resume")
    running = RunningGateway(resume_config(mock.url, f"sqlite+aiosqlite:///{folder}/gw.db"))
    yield running
    running.stop()
