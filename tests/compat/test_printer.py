"""`sluicegate import-litellm FILE` (SPEC 1): the printed sluicegate YAML lists every unmapped
LiteLLM key as a comment, never prints a secret, and loads back (`check-config`) into the same
config `serve` builds from the LiteLLM file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sluicegate.cli import main
from sluicegate.config import check_config, import_litellm, load_config
from support import clean_env

from .litellm_env import FIXTURES, MOCK_ENV

ENV = {**MOCK_ENV, "REDIS_HOST": "redis.internal"}


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a process of its own, with ENV (and `env`) as its environment."""
    return subprocess.run(
        [sys.executable, "-m", "sluicegate", *args],
        cwd=cwd,
        env={**clean_env(), **ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_printed_config_loads_back_into_the_same_config(tmp_path: Path, name: str) -> None:
    source = FIXTURES / name
    out = tmp_path / "sluicegate.yaml"
    out.write_text(import_litellm(source))
    assert check_config(out, ENV) == ([], [])
    assert load_config(out, ENV) == load_config(source, ENV)


def test_cli_prints_unmapped_keys_as_comments_and_loads_back(tmp_path: Path) -> None:
    printed = run("import-litellm", str(FIXTURES / "caching.yaml"), cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    comments = "\n".join(line for line in printed.stdout.splitlines() if line.startswith("#"))
    assert "# 6 LiteLLM key(s) not mapped:" in comments
    assert "litellm_settings.cache" not in comments  # mapped to `cache:`
    assert "cache:\n  mode: redis\n  scope: global\n  ttl_seconds: 600" in printed.stdout
    for key in (
        "litellm_settings.drop_params:",
        "litellm_settings.success_callback:",
        "general_settings.alerting:",
        "environment_variables:",
    ):
        assert f"#   {key}" in comments
    assert "redis://:${REDIS_PASSWORD}@${REDIS_HOST}:6379/0" in printed.stdout
    assert "api_key: ${OPENAI_API_KEY}" in printed.stdout
    for secret in ("openai-key", "redis-secret-pw", "redis.internal"):
        assert secret not in printed.stdout  # values of the environment are never printed
    out = tmp_path / "sluicegate.yaml"
    out.write_text(printed.stdout)
    checked = run("check-config", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{out}: OK (1 backends, 1 models, 0 users)" in checked.stdout


def test_fully_mapped_config_says_so_and_reads_no_environment(tmp_path: Path) -> None:
    printed = run(
        "import-litellm",
        str(FIXTURES / "providers.yaml"),
        cwd=tmp_path,
        AZURE_API_KEY_EU="must-not-appear",
    )
    assert printed.returncode == 0, printed.stderr
    assert "# every LiteLLM key was mapped" in printed.stdout
    assert "must-not-appear" not in printed.stdout
    assert "api_key: ${AZURE_API_KEY_EU}" in printed.stdout


def test_check_config_accepts_a_litellm_file_and_warns_once(tmp_path: Path) -> None:
    result = run("check-config", str(FIXTURES / "load_balancing.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK (3 backends, 4 models, 0 users)" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "LiteLLM config: 3 key(s) not mapped" in warnings[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("backends: []\n", "not a LiteLLM config (no model_list at the top level)"),
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: gpt-4o, timeout: no}\n",
            "model_list[0].litellm_params.timeout: must be a number",
        ),
        ("model_list: [\n", "yaml error"),
        (None, "no such file"),
    ],
)
def test_what_cannot_be_imported_exits_1_with_its_problems(
    tmp_path: Path, text: str | None, problem: str
) -> None:
    path = tmp_path / "config.yaml"
    if text is not None:
        path.write_text(text)
    result = CliRunner().invoke(main, ["import-litellm", str(path)])
    assert result.exit_code == 1
    assert problem in result.stderr
    assert result.stdout == ""
