"""Tests for sluicegate.config.loader and defaults: real files in tmp_path, explicit env maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.config import (
    ConfigError,
    GatewayConfig,
    check_config,
    embedded_defaults,
    load_config,
)

# SPEC section 2, with backends that make every reference resolve.
SPEC_EXAMPLE = """\
server:
  host: 0.0.0.0
  port: 4000
  master_key: ${SLUICEGATE_MASTER_KEY}   # admin API and dashboard; if unset, see section 1
  max_body_bytes: 10485760               # the default
database:
  url: sqlite+aiosqlite:///./sluicegate.db # or postgresql+asyncpg://user:pw@host/db
redis:
  url: null                                # redis://host:6379/0 → shared limits, live logs
logging:
  detail_stream_log_mode: compact          # compact | raw  (env DETAIL_STREAM_LOG_MODE wins)
live:
  heartbeat_seconds: 15
backends:
  - name: local-vllm
    type: openai
    base_url: http://127.0.0.1:8000/v1
    api_key: ${VLLM_KEY:-}
    headers: {}
    responses: translate
    timeouts: {connect: 5, first_token: 60, idle: 60, total: 600}
    max_retries: 2
    cooldown: {failures: 3, seconds: 30}
  - name: openai
    type: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
  - name: anthropic
    type: anthropic
    api_key: ${ANTHROPIC_API_KEY}
models:
  - name: fast
    targets:
      - {backend: local-vllm, model: qwen2.5-7b, weight: 3}
      - {backend: openai, model: gpt-4o-mini, weight: 1}
    strategy: weighted
    fallbacks: [claude-haiku]
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}
  - name: claude-haiku
    targets:
      - {backend: anthropic, model: claude-3-5-haiku-latest}
users:
  - name: ci-bot
    api_keys: [${CI_BOT_KEY}]
    models: ["fast", "local-vllm/*"]
    rpm: 600
    tpm: 200000
    budget_usd: 50
    budget_period: month
    detail_logging: false
    copy_reasoning_to_reasoning_content: false
"""

SPEC_ENV = {
    "SLUICEGATE_MASTER_KEY": "sk-master",
    "OPENAI_API_KEY": "sk-openai",
    "ANTHROPIC_API_KEY": "sk-ant",
    "CI_BOT_KEY": "sk-ci",
}

MINIMAL = """\
backends:
  - {name: demo, type: demo}
models:
  - name: m
    targets: [{backend: demo, model: demo-echo}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env or {})
    return info.value.problems


def test_spec_example_loads(tmp_path: Path) -> None:
    warnings: list[str] = []
    config = load_config(write(tmp_path, SPEC_EXAMPLE), SPEC_ENV, warnings)

    assert warnings == []
    assert config.server.host == "0.0.0.0"
    assert config.server.master_key == "sk-master"
    assert config.redis.url is None
    vllm = config.backend("local-vllm")
    assert vllm is not None
    assert vllm.api_key is None  # ${VLLM_KEY:-} → "" → None
    assert vllm.timeouts.first_token == 60
    assert [t.weight for t in config.models[0].targets] == [3, 1]
    assert config.models[0].fallbacks == ["claude-haiku"]
    assert config.users[0].api_keys == ["sk-ci"]
    assert config.users[0].budget_usd == 50


def test_flow_sequence_variable_parses(tmp_path: Path) -> None:
    # `[${CI_BOT_KEY}]` is not valid YAML flow syntax on its own: the braces read as a mapping.
    path = write(tmp_path, "users:\n  - {name: a, api_keys: [${K1}, 'x-${K2:-b, c}']}\n")
    config = load_config(path, {"K1": "one"})
    assert config.users[0].api_keys == ["one", "x-b, c"]


def test_substitution_forms(tmp_path: Path) -> None:
    text = MINIMAL + (
        "server:\n"
        "  host: ${HOST:-127.0.0.1}\n"
        "  port: ${PORT:-4100}\n"
        "database:\n"
        "  url: postgresql+asyncpg://${DB_USER}:${DB_PW:-pw}@db/x\n"
        "redis:\n"
        "  url: $${NOT_A_VAR}\n"
    )
    config = load_config(write(tmp_path, text), {"HOST": "0.0.0.0", "DB_USER": "app"})
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 4100
    assert config.database.url == "postgresql+asyncpg://app:pw@db/x"
    assert config.redis.url == "${NOT_A_VAR}"


def test_env_value_overrides_default_and_is_coerced(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "server: {port: '${PORT:-4100}'}\n")
    assert load_config(path, {"PORT": "4200"}).server.port == 4200


def test_unset_variable_warns_with_path(tmp_path: Path) -> None:
    text = MINIMAL + "users:\n  - name: ci\n    api_keys: [${CI_BOT_KEY}, sk-fixed]\n"
    warnings: list[str] = []
    config = load_config(write(tmp_path, text), {}, warnings)
    assert warnings == ["users[0].api_keys[0]: environment variable CI_BOT_KEY is not set"]
    assert config.users[0].api_keys == ["sk-fixed"]


def test_unknown_key_is_reported_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "server:\n  prot: 4000\n")
    assert problems_of(path) == ["server.prot: unknown key"]


def test_unknown_backend_in_target(tmp_path: Path) -> None:
    text = "backends:\n  - {name: openai, type: openai, base_url: http://x/v1}\n"
    text += "models:\n  - name: fast\n    targets: [{backend: opnai, model: gpt-4o}]\n"
    assert problems_of(write(tmp_path, text)) == [
        "models[0].targets[0].backend: unknown backend 'opnai'"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
server: {port: 70000}
backends:
  - {name: ok, type: demo, colour: blue}
  - {name: untyped}
models:
  - name: m
    targets: [{backend: ok, model: a}, {backend: missing, model: b}]
    fallbacks: [nowhere]
"""
    problems = problems_of(write(tmp_path, text))
    assert set(problems) == {
        "server.port: input should be less than or equal to 65535",
        "backends[0].colour: unknown key",
        "backends[1].type: required",
        "models[0].targets[1].backend: unknown backend 'missing'",
        "models[0].fallbacks[0]: unknown model 'nowhere'",
    }
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), {})
    assert str(info.value) == "\n".join(problems)


def test_invalid_backend_still_counts_as_known(tmp_path: Path) -> None:
    # The backend's own error is enough; its targets must not add "unknown backend".
    text = "backends:\n  - {name: az, type: azure}\n"
    text += "models:\n  - {name: m, targets: [{backend: az, model: x}]}\n"
    assert problems_of(write(tmp_path, text)) == [
        "backends[0]: backend type 'azure' needs base_url"
    ]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: [4000\nmodels: []\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3:")
    assert "yaml error:" in problem


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    assert problems_of(path) == [f"{path}: top level must be a mapping"]


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), {})
    assert config == GatewayConfig()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert problems_of(path) == [f"{path}: no such file"]


def test_empty_master_key_becomes_none(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "server:\n  master_key: ${SLUICEGATE_MASTER_KEY:-}\n")
    assert load_config(path, {}).server.master_key is None


def test_master_key_env_fills_unset_key(tmp_path: Path) -> None:
    env = {"SLUICEGATE_MASTER_KEY": "sk-env"}
    path = write(tmp_path, MINIMAL + "server:\n  master_key: ''\n")
    assert load_config(path, env).server.master_key == "sk-env"
    assert load_config(write(tmp_path, MINIMAL), env).server.master_key == "sk-env"


def test_master_key_in_file_wins_over_env(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "server:\n  master_key: sk-file\n")
    config = load_config(path, {"SLUICEGATE_MASTER_KEY": "sk-env"})
    assert config.server.master_key == "sk-file"


def test_detail_stream_log_mode_env_wins(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "logging: {detail_stream_log_mode: compact}\n")
    config = load_config(path, {"DETAIL_STREAM_LOG_MODE": "raw"})
    assert config.logging.detail_stream_log_mode == "raw"


def test_detail_stream_log_mode_env_invalid(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    problems = problems_of(path, {"DETAIL_STREAM_LOG_MODE": "verbose"})
    assert problems == ["DETAIL_STREAM_LOG_MODE: must be compact or raw"]


def test_injection_through_variable_stays_a_string(tmp_path: Path) -> None:
    text = "backends:\n  - name: demo\n    type: demo\n    api_key: ${EVIL}\n"
    evil = "x\nserver: {port: 1}"
    config = load_config(write(tmp_path, text), {"EVIL": evil})
    assert config.backends[0].api_key == evil
    assert config.server.port == 4000


def test_check_config_returns_problems_and_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "server: {master_key: '${MK}', prot: 1}\n")
    problems, warnings = check_config(path, {})
    assert problems == ["server.prot: unknown key"]
    assert warnings == ["server.master_key: environment variable MK is not set"]
    assert check_config(write(tmp_path, MINIMAL), {}) == ([], [])


def test_none_path_gives_embedded_defaults() -> None:
    assert load_config(None, {}) == embedded_defaults({})


def test_embedded_defaults_without_provider_keys() -> None:
    config = embedded_defaults({})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 4000)
    assert config.server.master_key is None
    assert config.database.url == "sqlite+aiosqlite:///./sluicegate.db"
    assert [(b.name, b.type, b.models) for b in config.backends] == [
        ("demo", "demo", ["demo-echo"])
    ]
    assert [(t.backend, t.model) for t in config.models[0].targets] == [("demo", "demo-echo")]
    assert config.models[0].name == "demo-echo"
    assert config.users == []


def test_embedded_defaults_with_provider_keys() -> None:
    env = {
        "OPENAI_API_KEY": "sk-openai",
        "ANTHROPIC_API_KEY": "sk-ant",
        "SLUICEGATE_MASTER_KEY": "sk-master",
        "DETAIL_STREAM_LOG_MODE": "raw",
    }
    config = embedded_defaults(env)
    assert [b.name for b in config.backends] == ["demo", "openai", "anthropic"]
    openai = config.backend("openai")
    assert openai is not None
    assert (openai.base_url, openai.api_key) == ("https://api.openai.com/v1", "sk-openai")
    anthropic = config.backend("anthropic")
    assert anthropic is not None
    assert (anthropic.base_url, anthropic.api_key) == ("https://api.anthropic.com", "sk-ant")
    assert config.server.master_key == "sk-master"
    assert config.logging.detail_stream_log_mode == "raw"


def test_embedded_defaults_openai_base_url_from_env() -> None:
    env = {"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL": "http://proxy/v1"}
    openai = embedded_defaults(env).backend("openai")
    assert openai is not None
    assert openai.base_url == "http://proxy/v1"


def test_embedded_defaults_invalid_log_mode() -> None:
    with pytest.raises(ConfigError) as info:
        embedded_defaults({"DETAIL_STREAM_LOG_MODE": "loud"})
    assert info.value.problems == ["DETAIL_STREAM_LOG_MODE: must be compact or raw"]
