"""The ledger of one LiteLLM mapping: `os.environ/NAME` values, typed reads, unmapped keys.

A LiteLLM value `os.environ/NAME` means "read NAME from the environment" (LiteLLM's
`get_secret`). Loading resolves it at once (a missing variable is a problem naming the key);
printing turns it into sluicegate's `${NAME}`, so `import-litellm` never prints a secret. Every
read goes through here so that each problem and each unmapped key carries its LiteLLM path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

ENV_PREFIX = "os.environ/"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class Values:
    """Reads LiteLLM values for one mapping run; `env` None means printing (`${NAME}` kept)."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = env
        self.problems: list[str] = []
        # (LiteLLM path, why it is not mapped): the warning at start, the printer's comments.
        self.unmapped: list[tuple[str, str]] = []

    def skip(self, path: str, why: str) -> None:
        self.unmapped.append((path, why))

    def skip_rest(self, section: Mapping[str, Any], path: str, known: set[str], why: str) -> None:
        """List every key of `section` this mapping does not read."""
        for key in section:
            if key not in known:
                self.skip(join(path, key), why)

    def text(self, value: Any, path: str) -> str | None:
        """A string value with `os.environ/NAME` resolved (None: absent, or reported)."""
        if value is None:
            return None
        if isinstance(value, date):  # `api_version: 2024-10-21` unquoted is a YAML date
            value = value.isoformat()
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problems.append(f"{path}: must be a string")
            return None
        value = str(value)
        if not value.startswith(ENV_PREFIX):
            # Printed text is read back by sluicegate's loader, which expands `${…}`.
            return value.replace("${", "$${") if self.env is None else value
        name = value[len(ENV_PREFIX) :]
        if not _ENV_NAME.fullmatch(name):
            self.problems.append(f"{path}: '{value}' does not name an environment variable")
            return None
        if self.env is None:
            return "${" + name + "}"
        if name not in self.env:
            self.problems.append(f"{path}: environment variable {name} is not set ({value})")
            return None
        return self.env[name]

    def env_default(self, name: str) -> str | None:
        """What LiteLLM reads from `name` when the config leaves a value out (None: unset)."""
        if self.env is None:
            return "${" + name + ":-}"
        return self.env.get(name) or None

    def number(self, value: Any, path: str, *, positive: bool = False) -> float | None:
        """A number, also from `os.environ/NAME` or a numeric string (None: absent)."""
        if value is None:
            return None
        if isinstance(value, str):
            resolved = self.text(value, path)
            if resolved is None:
                return None
            if self.env is None and resolved.startswith("${"):
                self.problems.append(f"{path}: a number from the environment cannot be printed")
                return None
            try:
                value = float(resolved)
            except ValueError:
                # A value read from the environment is not repeated: it may be a secret.
                shown = "" if value.startswith(ENV_PREFIX) else f", not '{resolved}'"
                self.problems.append(f"{path}: must be a number{shown}")
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problems.append(f"{path}: must be a number")
            return None
        if value < 0 or (positive and value == 0):
            self.problems.append(f"{path}: must be {'above' if positive else 'at least'} 0")
            return None
        return value

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{path}: must be a mapping")
            return {}
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"{path}: must be a list")
            return []
        return value
