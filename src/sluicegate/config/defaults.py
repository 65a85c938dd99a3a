"""What the environment contributes to a config: embedded defaults, provider keys, env overrides.

`sluicegate serve` with no file must answer a curl at once (SPEC 1), so the defaults carry a
local `demo` backend and add real providers only when their API keys are in the environment.
The two env overrides (`SLUICEGATE_MASTER_KEY`, `DETAIL_STREAM_LOG_MODE`) are applied here on a
raw document, before validation, so a file and the defaults get exactly the same treatment.

`ConfigError` lives here rather than in `loader.py` because both modules raise it and the loader
already imports this one; keeping it here avoids an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import BackendConfig, GatewayConfig

MASTER_KEY_VAR = "SLUICEGATE_MASTER_KEY"
LOG_MODE_VAR = "DETAIL_STREAM_LOG_MODE"
LOG_MODES = ("compact", "raw")

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"


class ConfigError(Exception):
    """Raised when a config file or the environment cannot give a valid `GatewayConfig`.

    `problems` holds every problem found, each as `path: message`, so `check-config` can print
    them all at once instead of making the user fix one per run.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


def provider_env_backends(env: Mapping[str, str]) -> list[BackendConfig]:
    """Backends for the provider API keys found in `env` (empty values count as unset)."""
    backends: list[BackendConfig] = []
    if openai_key := env.get("OPENAI_API_KEY"):
        base_url = env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        backends.append(
            BackendConfig(name="openai", type="openai", base_url=base_url, api_key=openai_key)
        )
    if anthropic_key := env.get("ANTHROPIC_API_KEY"):
        backends.append(
            BackendConfig(
                name="anthropic",
                type="anthropic",
                base_url=ANTHROPIC_BASE_URL,
                api_key=anthropic_key,
            )
        )
    return backends


def apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    """Apply the master key and stream log mode from `env` to a raw document, in place.

    Returns problems rather than raising so the loader can report them with the file's own.
    Sections that are not mappings are left alone: validation reports them at their path.
    """
    problems: list[str] = []
    master_key = env.get(MASTER_KEY_VAR)
    if master_key:
        server = _section(data, "server")
        if server is not None and not server.get("master_key"):
            server["master_key"] = master_key
    mode = env.get(LOG_MODE_VAR, "").strip().lower()
    if mode:
        if mode not in LOG_MODES:
            problems.append(f"{LOG_MODE_VAR}: must be compact or raw")
        elif (logging := _section(data, "logging")) is not None:
            logging["detail_stream_log_mode"] = mode
    return problems


def embedded_defaults(env: Mapping[str, str]) -> GatewayConfig:
    """The config `serve` runs on without a file: loopback, SQLite, the `demo` backend.

    Raises `ConfigError` only for an invalid `DETAIL_STREAM_LOG_MODE`.
    """
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 4000},
        "database": {"url": "sqlite+aiosqlite:///./sluicegate.db"},
        "backends": [{"name": "demo", "type": "demo", "models": ["demo-echo"]}],
        "models": [
            {"name": "demo-echo", "targets": [{"backend": "demo", "model": "demo-echo"}]},
        ],
        "users": [],
    }
    problems = apply_env_overrides(data, env)
    if problems:
        raise ConfigError(problems)
    config = GatewayConfig.model_validate(data)
    extra = provider_env_backends(env)
    return config.model_copy(update={"backends": [*config.backends, *extra]})


def _section(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The mapping at `data[key]`, created when absent or null; None when it is something else."""
    value = data.get(key)
    if value is None:
        value = data[key] = {}
    return value if isinstance(value, dict) else None
