"""Reading a YAML config file into a `GatewayConfig`, with `${VAR:-default}` and path-named errors.

    file ──read──▶ text ──shield ${…}──▶ yaml.safe_load ──unshield──▶ document
         ──substitute env in string values──▶ empty → None ──env overrides──▶ validate
         ──validate_references──▶ GatewayConfig   (or ConfigError with every problem at once)

Variables are substituted in parsed string values, never in the raw text, so a variable's
value cannot inject YAML. Before parsing, each `${…}` is swapped for private-use characters of
the same length only so YAML flow syntax (`api_keys: [${KEY}]`, as in SPEC 2) does not read its
braces as a mapping; the swap is undone on the parsed values and keeps error columns exact.
A consequence worth knowing: the text between `${` and `}` is taken verbatim, so YAML quoting
escapes do not apply inside it (`"${A:-a\\nb}"` defaults to a backslash and an `n`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..compat import is_litellm, map_litellm, render, warning
from .defaults import ConfigError, apply_env_overrides, embedded_defaults
from .schema import (
    BackendConfig,
    GatewayConfig,
    ModelConfig,
    TargetConfig,
    UserConfig,
    validate_references,
)

__all__ = ["ConfigError", "check_config", "import_litellm", "load_config"]

# `$${` is the escape for a literal `${`; it is matched first so it never starts a variable.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# What the shield hides from YAML: a variable (or an escaped one) up to its closing brace.
_SHIELDED = re.compile(r"\$?\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^{}\n]*)?\}")
_PUA_FIRST, _PUA_FILL = 0xE000, "\uf8ff"
_PUA = re.compile("[\ue000-\uf8fe]\uf8ff*")
_PUA_ANY = re.compile("[\ue000-\uf8ff]")


def load_config(
    path: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> GatewayConfig:
    """Load and validate the config at `path`, or the embedded defaults when `path` is None.

    `env` defaults to `os.environ`. Warnings (unset variables) are appended to `warnings` when
    given. Raises `ConfigError` listing every problem found, each as `path: message`.
    """
    env = os.environ if env is None else env
    if path is None:
        return embedded_defaults(env)
    data = _read_document(Path(path))
    found: list[str] = []
    litellm = is_litellm(data)
    if litellm:
        # LiteLLM's own `os.environ/NAME` is resolved by the mapping; `${…}` means nothing there.
        mapped = map_litellm(data, env)
        if mapped.problems:
            raise ConfigError(mapped.problems)
        found += [text] if (text := warning(mapped)) else []
        data = mapped.document
    else:
        data = _substitute(data, env, "", found)
    if warnings is not None:
        warnings.extend(found)
    _normalise(data)
    problems = apply_env_overrides(data, env)
    config, field_problems = _validate(data)
    problems += field_problems
    problems += _reference_problems(config or _skeleton(data), field_problems)
    if litellm:
        problems = [f"{p} (in the config mapped from LiteLLM: import-litellm)" for p in problems]
    if problems or config is None:
        raise ConfigError(problems)
    return config


def import_litellm(path: str | os.PathLike[str]) -> str:
    """The sluicegate YAML for the LiteLLM config at `path`; `os.environ/NAME` stays `${NAME}`."""
    data = _read_document(Path(path))
    if not is_litellm(data):
        raise ConfigError([f"{path}: not a LiteLLM config (no model_list at the top level)"])
    mapped = map_litellm(data)
    if mapped.problems:
        raise ConfigError(mapped.problems)
    return render(mapped, str(path))


def check_config(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) for the config at `path`, never raising; for `check-config`."""
    warnings: list[str] = []
    try:
        load_config(path, env, warnings)
    except ConfigError as exc:
        return exc.problems, warnings
    return [], warnings


def _read_document(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, with `${…}` still unexpanded."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    shielded, spans = _shield(text)
    try:
        data = yaml.safe_load(shielded)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_yaml_problem(path, exc, spans)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: yaml error: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: top level must be a mapping"])
    document: dict[str, Any] = _unshield(data, spans)
    return document


def _yaml_problem(path: Path, exc: yaml.MarkedYAMLError, spans: list[str]) -> str:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    message = _restore(message, spans)
    if mark is None:
        return f"{path}: yaml error: {message}"
    return f"{path}:{mark.line + 1}:{mark.column + 1}: yaml error: {message}"


def _shield(text: str) -> tuple[str, list[str]]:
    """Replace each `${…}` by private-use characters of the same length; return the originals.

    A file that already uses private-use characters is parsed as is (no shield) so that its
    own characters are never mistaken for a hidden variable.
    """
    spans: list[str] = []
    if _PUA_ANY.search(text):
        return text, spans

    def hide(match: re.Match[str]) -> str:
        spans.append(match.group())
        return chr(_PUA_FIRST + len(spans) - 1) + _PUA_FILL * (len(match.group()) - 1)

    shielded = _SHIELDED.sub(hide, text)
    if len(spans) > 0xF8FF - _PUA_FIRST:
        return text, []
    return shielded, spans


def _unshield(node: Any, spans: list[str]) -> Any:
    """Put the original `${…}` text back into every string key and value."""
    if not spans:
        return node
    if isinstance(node, str):
        return _restore(node, spans)
    if isinstance(node, dict):
        return {_unshield(k, spans): _unshield(v, spans) for k, v in node.items()}
    if isinstance(node, list):
        return [_unshield(item, spans) for item in node]
    return node


def _restore(text: str, spans: list[str]) -> str:
    if not spans:
        return text
    return _PUA.sub(lambda m: spans[ord(m.group()[0]) - _PUA_FIRST], text)


def _substitute(node: Any, env: Mapping[str, str], path: str, warnings: list[str]) -> Any:
    """Expand variables in every string value (keys are left alone), recording unset ones."""
    if isinstance(node, str):
        return _expand(node, env, path, warnings)
    if isinstance(node, dict):
        return {k: _substitute(v, env, _join(path, k), warnings) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, env, f"{path}[{i}]", warnings) for i, v in enumerate(node)]
    return node


def _expand(value: str, env: Mapping[str, str], path: str, warnings: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "${"
        if name in env:
            return env[name]
        if default is not None:
            return default
        warnings.append(f"{path}: environment variable {name} is not set")
        return ""

    return _VARIABLE.sub(replace, value)


def _normalise(data: dict[str, Any]) -> None:
    """Turn what an unset variable leaves behind into what the user meant: nothing.

    A section left empty (`server:` with every line commented out) means its defaults; an
    empty key or URL means none; an empty user API key is dropped (its warning already says why).
    """
    for key in [k for k, v in data.items() if v is None]:
        del data[key]
    for section, key in (
        ("server", "master_key"),
        ("redis", "url"),
        ("telemetry", "otlp_endpoint"),
    ):
        _empty_to_none(data.get(section), key)
    for backend in _entries(data, "backends"):
        _empty_to_none(backend, "api_key")
        _empty_to_none(backend, "base_url")
        _empty_to_none(backend, "api_version")
    for user in _entries(data, "users"):
        keys = user.get("api_keys")
        if isinstance(keys, list):
            user["api_keys"] = [k for k in keys if k != ""]


def _empty_to_none(section: Any, key: str) -> None:
    if isinstance(section, dict) and section.get(key) == "":
        section[key] = None


def _entries(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The mapping entries of a top-level list; anything malformed is left to validation."""
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _validate(data: dict[str, Any]) -> tuple[GatewayConfig | None, list[str]]:
    try:
        return GatewayConfig.model_validate(data), []
    except ValidationError as exc:
        return None, [_format_error(error) for error in exc.errors()]


def _format_error(error: ErrorDetails) -> str:
    path = _loc_path(error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    if error["type"] == "missing":
        return f"{path}: required"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {message[:1].lower()}{message[1:]}"


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _reference_problems(config: GatewayConfig, field_problems: list[str]) -> list[str]:
    """Cross-reference problems, minus those at a path whose field is already reported."""
    reported = [p.split(": ", 1)[0] for p in field_problems]
    return [
        problem
        for problem in validate_references(config)
        if not any(_within(problem.split(": ", 1)[0], p) for p in reported)
    ]


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith((f"{parent}.", f"{parent}["))


def _skeleton(data: Mapping[str, Any]) -> GatewayConfig:
    """An unvalidated config holding just the names references need, from a document that
    failed validation, so reference problems are reported alongside the field problems.

    Entries too broken to name get a unique placeholder that matches nothing and so keeps every
    index (and so every path) the same as in the file.
    """

    def text(value: Any) -> Any:
        return value if isinstance(value, str) else object()

    def items(value: Any) -> list[Any]:
        return value if isinstance(value, list) else []

    def field(entry: Any, key: str) -> Any:
        return entry.get(key) if isinstance(entry, dict) else None

    backends = [
        BackendConfig.model_construct(name=text(field(b, "name")))
        for b in items(data.get("backends"))
    ]
    models = [
        ModelConfig.model_construct(
            name=text(field(m, "name")),
            targets=[
                TargetConfig.model_construct(backend=text(field(t, "backend")))
                for t in items(field(m, "targets"))
            ],
            fallbacks=[text(f) for f in items(field(m, "fallbacks"))],
        )
        for m in items(data.get("models"))
    ]
    users = [
        UserConfig.model_construct(
            name=text(field(u, "name")),
            api_keys=[text(k) for k in items(field(u, "api_keys"))],
        )
        for u in items(data.get("users"))
    ]
    return GatewayConfig.model_construct(backends=backends, models=models, users=users)
