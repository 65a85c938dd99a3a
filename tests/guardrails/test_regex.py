"""The `regex` guardrail, and its config: an invalid pattern is a config error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sluicegate.config.content import GuardrailConfig
from sluicegate.errors import ContentFiltered
from sluicegate.guardrails.regex import RegexGuardrail
from support import sluicegate


def regex(**fields: object) -> RegexGuardrail:
    return RegexGuardrail(GuardrailConfig.model_validate({"name": "r", "type": "regex", **fields}))


def test_mask_uses_the_replacement_literally() -> None:
    guardrail = regex(pattern=r"(sk)-\w+", action="mask", replacement=r"<\1 gone>")
    assert guardrail.mask("key sk-abc and sk-def") == r"key <\1 gone> and <\1 gone>"
    assert regex(pattern="x+", action="mask").mask("axxb") == "a[REDACTED]b"
    unchanged = "nothing here"
    assert guardrail.mask(unchanged) is unchanged


def test_block_raises_content_filtered() -> None:
    with pytest.raises(ContentFiltered) as caught:
        regex(pattern="secret").check(["a", "top secret"])
    assert caught.value.guardrail == "r"
    assert regex(pattern="secret").check(["fine"]) is False


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"pattern": "([a-z"}, "guardrail 'r': invalid regex pattern"),
        ({}, "guardrail 'r': type regex needs a pattern"),
    ],
)
def test_config_errors_name_the_guardrail(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GuardrailConfig.model_validate({"name": "r", "type": "regex", **fields})
    assert problem in str(caught.value)


def test_max_input_tokens_only_blocks_input() -> None:
    with pytest.raises(ValidationError, match="only blocks, and only on input"):
        GuardrailConfig.model_validate(
            {"name": "s", "type": "max_input_tokens", "limit": 5, "on": "output"}
        )
    with pytest.raises(ValidationError, match="needs a limit"):
        GuardrailConfig.model_validate({"name": "s", "type": "max_input_tokens"})


CONFIG = """
backends: [{name: demo, type: demo}]
models:
  - {name: m, targets: [{backend: demo, model: demo-echo}], guardrails: [nope]}
guardrails:
  - {name: keys, type: regex, pattern: "sk-[A-Z", action: block}
"""


def test_check_config_shows_a_bad_pattern_and_an_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(CONFIG)
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "guardrails[0]" in output and "guardrail 'keys': invalid regex pattern" in output
    path.write_text(CONFIG.replace('"sk-[A-Z"', '"sk-[A-Z]+"'))
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "models[0].guardrails[0]: unknown guardrail 'nope'" in result.stdout + result.stderr
