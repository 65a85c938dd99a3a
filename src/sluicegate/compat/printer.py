"""`sluicegate import-litellm FILE`: a mapped LiteLLM config printed as sluicegate YAML, with
every LiteLLM key it could not map listed as a comment (SPEC 1)."""

from __future__ import annotations

from typing import Any

import yaml

from .litellm import Mapped

_ORDER = ("server", "database", "redis", "cache", "backends", "models")
_KEY_ORDER = ("name", "type", "base_url", "api_key", "api_version", "targets", "backend", "model")


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no `&id001` anchors for settings several backends share."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _ordered(node: Any) -> Any:
    """Names and types first in each entry, so a backend reads `name, type, base_url, …`."""
    if isinstance(node, dict):
        first = [k for k in _KEY_ORDER if k in node]
        return {k: _ordered(node[k]) for k in [*first, *(k for k in node if k not in first)]}
    if isinstance(node, list):
        return [_ordered(item) for item in node]
    return node


def render(mapped: Mapped, source: str) -> str:
    """The sluicegate YAML for `mapped` (read from `source`), unmapped keys as comments."""
    lines = [
        f"# sluicegate config imported from the LiteLLM config {source}",
        "# (sluicegate import-litellm; docs/migrating-from-litellm.md says what maps and how)",
    ]
    if mapped.unmapped:
        lines.append(f"# {len(mapped.unmapped)} LiteLLM key(s) not mapped:")
        lines += [f"#   {path}: {why}" for path, why in mapped.unmapped]
    else:
        lines.append("# every LiteLLM key was mapped")
    document = {k: mapped.document[k] for k in _ORDER if k in mapped.document}
    body = yaml.dump(
        _ordered(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return "\n".join(lines) + "\n" + body


def warning(mapped: Mapped) -> str | None:
    """The one warning `serve` prints at start for a LiteLLM config with unmapped keys."""
    if not mapped.unmapped:
        return None
    keys = ", ".join(path for path, _ in mapped.unmapped)
    return (
        f"LiteLLM config: {len(mapped.unmapped)} key(s) not mapped, ignored: {keys} "
        "(sluicegate import-litellm FILE says why for each)"
    )
