"""LiteLLM proxy configs (tests/compat/fixtures, adapted from LiteLLM's docs) loaded by
`load_config` as `serve` loads them: each maps to what LiteLLM documents (SPEC 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.compat.deployments import TOKEN_WEIGHT, shuffle_weights
from sluicegate.compat.litellm import map_litellm
from sluicegate.config import ConfigError, GatewayConfig, load_config

from .litellm_env import FIXTURES, MOCK_ENV


def load(name: str, env: dict[str, str] | None = None) -> tuple[GatewayConfig, list[str]]:
    warnings: list[str] = []
    config = load_config(FIXTURES / name, MOCK_ENV if env is None else env, warnings)
    return config, warnings


def targets(config: GatewayConfig, model: str) -> list[tuple[str, str, float]]:
    found = next(m for m in config.models if m.name == model)
    return [(t.backend, t.model, t.weight) for t in found.targets]


def test_load_balancing_weights_deployments_by_rpm_like_simple_shuffle() -> None:
    config, warnings = load("load_balancing.yaml")
    # The group's first deployment sets rpm (and tpm): LiteLLM weights the pick by rpm.
    assert targets(config, "zephyr-beta") == [
        ("openai", "zephyr-7b-beta", 60),
        ("openai-2", "zephyr-7b-beta", 600),
        ("hosted-vllm", "zephyr-7b-beta", 60000),
    ]
    model = next(m for m in config.models if m.name == "zephyr-beta")
    assert model.strategy == "weighted"
    assert model.fallbacks == ["gpt-4o"]
    # One backend per distinct (api_base, api_key): gpt-4o shares zephyr's first one.
    assert targets(config, "gpt-4o") == [("openai", "gpt-4o", 200)]
    assert [b.name for b in config.backends] == ["openai", "openai-2", "hosted-vllm"]
    first, second, vllm = config.backends
    assert (first.base_url, first.api_key) == ("http://127.0.0.1:9/v1", "key-a")
    assert (second.base_url, second.api_key) == ("http://127.0.0.1:9/v1", "key-b")
    assert (vllm.type, vllm.base_url, vllm.api_key) == ("openai", "http://127.0.0.1:9/v1", None)
    # router_settings.timeout wins over litellm_settings.request_timeout; num_retries: 0.
    assert (first.timeouts.total, first.timeouts.first_token, first.timeouts.idle) == (30, 30, 30)
    assert first.max_retries == 0
    assert first.cooldown.failures == 4  # allowed_fails 3: cooled on the 4th failure
    # model_group_alias: gpt-4 is served by gpt-4o's deployments.
    assert targets(config, "gpt-4") == targets(config, "gpt-4o")
    assert config.server.master_key == "sk-1234"
    assert config.server.host == "0.0.0.0"
    assert len(warnings) == 1
    assert "model_list[4].model_info" in warnings[0]
    assert "litellm_settings.context_window_fallbacks" in warnings[0]
    assert "litellm_settings.drop_params" in warnings[0]


def test_providers_map_to_azure_anthropic_gemini_backends_with_env_secrets() -> None:
    config, warnings = load("providers.yaml")
    assert warnings == []
    azure_eu, azure_ca, anthropic, gemini, broken = config.backends
    assert (azure_eu.type, azure_eu.base_url, azure_eu.api_key, azure_eu.api_version) == (
        "azure",
        "https://eu.example.net",
        "azure-eu-key",
        "2024-08-01-preview",
    )
    assert (azure_ca.base_url, azure_ca.api_key) == ("https://ca.example.net", "azure-ca-key")
    assert (anthropic.type, anthropic.base_url, anthropic.api_key) == (
        "anthropic",
        "https://anthropic.example.net",
        "anthropic-key",
    )
    assert (gemini.type, gemini.api_key) == ("gemini", "gemini-key")
    assert broken.api_version == "2023-05-15"
    assert targets(config, "gpt-4o") == [("azure", "gpt-4o-eu", 6), ("azure-2", "gpt-4o-ca", 12)]
    assert {m.strategy for m in config.models} == {"least_busy"}
    fallbacks = {m.name: m.fallbacks for m in config.models}
    assert fallbacks["gpt-4-broken"] == ["claude-3-5-sonnet"]
    assert fallbacks["claude-3-5-sonnet"] == ["gemini-pro"]
    assert (azure_eu.cooldown.failures, azure_eu.cooldown.seconds) == (2, 30)
    assert config.server.master_key == "sk-litellm-master"


def test_reliability_maps_weight_timeouts_retries_headers_and_pricing() -> None:
    config, warnings = load("reliability.yaml")
    assert targets(config, "gpt-3.5-turbo") == [
        ("azure", "chatgpt-v-2", 9),
        ("openai", "gpt-3.5-turbo", 1),
    ]
    azure, openai, gpt4 = config.backends
    # timeout → total; stream_timeout → first_token and idle; connect never longer.
    t = azure.timeouts
    assert (t.total, t.first_token, t.idle, t.connect) == (0.5, 0.25, 0.25, 0.25)
    assert (openai.timeouts.total, openai.max_retries) == (30, 4)  # its own max_retries
    assert openai.base_url is None and openai.effective_base_url == "https://api.openai.com/v1"
    assert gpt4.max_retries == 2  # router num_retries
    assert gpt4.headers == {
        "AI-Resource-Group": "ishaan-resource",
        "OpenAI-Organization": "org-ikDc4ex8NB",
    }
    models = {m.name: m for m in config.models}
    assert {m.strategy for m in models.values()} == {"lowest_latency"}
    assert models["gpt-4"].pricing.input_per_mtok == pytest.approx(30.0)
    assert models["gpt-4"].pricing.output_per_mtok == pytest.approx(60.0)
    # fallbacks and default_fallbacks, without repeating gpt-4.
    assert models["gpt-3.5-turbo"].fallbacks == ["gpt-4"]
    assert models["gpt-4"].fallbacks == []
    assert len(warnings) == 1
    assert "router_settings.retry_policy" in warnings[0]
    assert "model_list[2].litellm_params.temperature" in warnings[0]


def test_caching_config_maps_redis_database_and_the_cache() -> None:
    config, warnings = load("caching.yaml", {**MOCK_ENV, "REDIS_PASSWORD": "p@ss:word"})
    # REDIS_HOST comes from the config's environment_variables, as LiteLLM exports them.
    assert config.redis.url == "redis://:p%40ss%3Aword@redis.internal:6379/0"
    # LiteLLM's cache is shared by every key: scope global.
    cache = config.cache
    assert (cache.mode, cache.ttl_seconds, cache.scope) == ("redis", 600, "global")
    assert config.database.url == (
        "postgresql+asyncpg://llmproxy:dbpassword9090@db.internal:5432/litellm?ssl=require"
    )
    (warning,) = warnings
    assert "environment_variables" not in warning  # honoured when loading
    assert "litellm_settings.cache" not in warning
    for key in (
        "litellm_settings.success_callback",
        "general_settings.alerting",
        "general_settings.proxy_batch_write_at",
    ):
        assert key in warning


def test_local_servers_are_openai_backends_and_unsupported_entries_are_listed() -> None:
    config, warnings = load("local_models.yaml", {})
    vllm, ollama = config.backends
    assert (vllm.type, vllm.base_url) == ("openai", "http://vllm.internal:8000/v1")
    assert (ollama.type, ollama.base_url) == ("openai", "http://ollama.internal:11434/v1")
    assert [m.name for m in config.models] == ["llama3", "mistral-7b"]
    assert targets(config, "llama3") == [("hosted-vllm", "meta-llama/Meta-Llama-3-8B-Instruct", 1)]
    (warning,) = warnings
    assert "model_list[2].litellm_params.model" in warning  # bedrock/
    assert "model_list[3]" in warning  # the "*" wildcard
    assert config.server.master_key is None  # no key: sluicegate creates one, on loopback


def test_a_missing_environment_variable_is_an_error_naming_the_key() -> None:
    env = {k: v for k, v in MOCK_ENV.items() if k != "AZURE_API_KEY_CA"}
    with pytest.raises(ConfigError) as caught:
        load("providers.yaml", env)
    assert caught.value.problems == [
        "model_list[1].litellm_params.api_key: environment variable AZURE_API_KEY_CA is not set "
        "(os.environ/AZURE_API_KEY_CA)"
    ]


def test_litellm_env_fallbacks_for_master_key_and_database(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o}\n")
    env = {
        "LITELLM_MASTER_KEY": "sk-from-env",
        "DATABASE_URL": "postgres://u:p@db/litellm",
        "OPENAI_API_KEY": "openai-key",
    }
    config = load_config(path, env)
    assert config.server.master_key == "sk-from-env"
    assert config.server.host == "127.0.0.1"  # 0.0.0.0 only for a key the file sets
    assert config.database.url == "postgresql+asyncpg://u:p@db/litellm"
    assert config.backends[0].api_key == "openai-key"
    bare = load_config(path, {})
    assert bare.backends[0].api_key is None
    assert bare.server.master_key is None
    assert bare.database.url.startswith("sqlite+aiosqlite")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("model_list: {a: 1}\n", "model_list: must be a list"),
        (
            "model_list:\n  - litellm_params: {model: gpt-4o}\n",
            "model_list[0].model_name: required",
        ),
        ("model_list:\n  - model_name: m\n", "model_list[0].litellm_params.model: required"),
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o, timeout: soon}\n",
            "model_list[0].litellm_params.timeout: must be a number, not 'soon'",
        ),
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: azure/d}\n",
            "model_list[0].litellm_params.api_base: required for azure/",
        ),
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o, api_key: "
            "os.environ/no-such}\n",
            "does not name an environment variable",
        ),
        (
            "model_list: []\nrouter_settings: {num_retries: -1}\n",
            "router_settings.num_retries: must be at least 0",
        ),
    ],
)
def test_malformed_litellm_configs_are_reported_by_path(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_value_sluicegate_refuses_names_the_mapped_config(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n"
        f"      model: azure/d\n      api_base: https://x\n      api_version: {'9' * 40}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    (problem,) = caught.value.problems
    assert problem.startswith("backends[0].api_version:")
    assert problem.endswith("(in the config mapped from LiteLLM: import-litellm)")


def test_dollar_braces_in_a_litellm_value_are_literal(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o, api_key: 'k${X}'}\n"
    )
    assert load_config(path, {"X": "expanded"}).backends[0].api_key == "k${X}"


@pytest.mark.parametrize(
    ("deployments", "weights"),
    [
        ([{"weight": 3}, {"weight": 1, "rpm": 900}], [3, 1]),
        ([{"rpm": 10}, {"rpm": 30, "tpm": 1}], [10, 30]),
        ([{"tpm": 1000}, {"tpm": 3000}], [1000, 3000]),
        ([{}, {"rpm": 5}], [1, 1]),  # LiteLLM looks at the first deployment only
        ([{"rpm": 10}, {}], [10, TOKEN_WEIGHT]),  # LiteLLM never draws it: a token weight
        ([{"weight": 0}, {"weight": 0}], [1, 1]),
    ],
)
def test_shuffle_weights_follow_litellm_simple_shuffle(
    deployments: list[dict[str, float]], weights: list[float]
) -> None:
    assert shuffle_weights(deployments) == weights


def test_an_unquoted_api_version_date_is_its_text(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n"
        "      model: azure/d\n      api_base: https://x\n      api_version: 2024-10-21\n"
    )
    assert load_config(path, {}).backends[0].api_version == "2024-10-21"


def test_shuffle_keys_read_from_the_environment_and_beside_litellm_params(
    tmp_path: Path,
) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(
        "model_list:\n"
        "  - {model_name: m, litellm_params: {model: gpt-4o, rpm: os.environ/RPM}}\n"
        "  - {model_name: m, rpm: 21, litellm_params: {model: gpt-4o, api_key: k}}\n"
    )
    config = load_config(path, {"RPM": "7"})
    assert [t.weight for t in config.models[0].targets] == [7, 21]


@pytest.mark.parametrize(
    ("params", "mode", "note"),
    [
        ({"type": "local", "ttl": 30}, "memory", None),
        ({"type": "redis"}, "memory", "litellm_settings.cache_params.type"),
        ({"type": "s3", "s3_bucket_name": "b"}, "off", "litellm_settings.cache"),
    ],
    ids=["local", "redis-without-redis", "s3"],
)
def test_cache_types_map_to_memory_redis_or_nothing(
    params: dict[str, object], mode: str, note: str | None
) -> None:
    document = {
        "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}}],
        "litellm_settings": {"cache": True, "cache_params": params},
    }
    mapped = map_litellm(document, {})
    assert mapped.problems == []
    config = GatewayConfig.model_validate(mapped.document)
    assert config.cache.mode == mode
    if mode != "off":
        assert config.cache.scope == "global"
    if "ttl" in params:
        assert config.cache.ttl_seconds == params["ttl"]
    notes = [path for path, _ in mapped.unmapped]
    assert (note in notes) if note else not any("cache" in path for path in notes)
