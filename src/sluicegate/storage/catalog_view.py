"""CatalogView: a `load_all` snapshot as the config models the gateway builds its tables from.

Rows are validated with the same pydantic models as the config file, so a row the admin API
wrote and an entry of the file mean exactly the same thing. A row that no longer validates
(a schema change, a hand edit) is skipped with a warning rather than stopping a reload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..config.schema import BackendConfig, ModelConfig, UserConfig

log = logging.getLogger("sluicegate.catalog")


@dataclass(frozen=True)
class CatalogUser:
    id: str
    config: UserConfig
    # (key id, hex sha256) of each non-revoked key
    keys: list[tuple[str, str]] = field(default_factory=list)
    # extra globs granted by permission rows (model globs, and "<backend>/*" for backends)
    granted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogView:
    version: int
    backends: list[BackendConfig]
    models: list[ModelConfig]
    users: list[CatalogUser]


def _valid(kind: str, build: Any, row: dict[str, Any]) -> Any:
    try:
        return build(row)
    except ValidationError as exc:
        log.warning("skipping %s %r from the database: %s", kind, row.get("name"), exc)
        return None


def _backend(row: dict[str, Any]) -> BackendConfig:
    fields = (
        "name",
        "type",
        "base_url",
        "api_key",
        "headers",
        "responses",
        "timeouts",
        "max_retries",
        "cooldown",
        "models",
        "api_version",
        "continue_final_message",
    )
    return BackendConfig.model_validate({k: row[k] for k in fields if row.get(k) is not None})


def model_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A stored model in the config file's shape (pricing nested, as in `models:`)."""
    return {
        "name": row["name"],
        "targets": row["targets"],
        "strategy": row["strategy"],
        "fallbacks": row["fallbacks"] or [],
        "pricing": {
            "input_per_mtok": row["input_per_mtok"] or 0.0,
            "output_per_mtok": row["output_per_mtok"] or 0.0,
        },
        "guardrails": row.get("guardrails"),
        "stream_resume_attempts": row.get("stream_resume_attempts") or 0,
    }


def _model(row: dict[str, Any]) -> ModelConfig:
    return ModelConfig.model_validate(model_fields(row))


def _user(row: dict[str, Any]) -> UserConfig:
    fields = (
        "name",
        "models",
        "rpm",
        "tpm",
        "budget_usd",
        "budget_period",
        "model_limits",
        "detail_logging",
        "copy_reasoning_to_reasoning_content",
    )
    return UserConfig.model_validate({k: row[k] for k in fields if row.get(k) is not None})


def view_of(snapshot: dict[str, Any]) -> CatalogView:
    backends = [b for row in snapshot["backends"] if (b := _valid("backend", _backend, row))]
    models = [m for row in snapshot["models"] if (m := _valid("model", _model, row))]
    backend_names = {row["id"]: row["name"] for row in snapshot["backends"]}
    keys: dict[str, list[tuple[str, str]]] = {}
    for row in snapshot["keys"]:
        keys.setdefault(row["user_id"], []).append((row["id"], row["key_hash"]))
    granted: dict[str, list[str]] = {}
    for row in snapshot["permissions"]:
        globs = granted.setdefault(row["user_id"], [])
        if row.get("model"):
            globs.append(row["model"])
        elif row.get("backend_id") in backend_names:
            name = backend_names[row["backend_id"]]
            globs.append(f"{name}/*")
            globs.extend(m.name for m in models if any(t.backend == name for t in m.targets))
    users = []
    for row in snapshot["users"]:
        user = _valid("user", _user, row)
        if user is not None:
            users.append(
                CatalogUser(row["id"], user, keys.get(row["id"], []), granted.get(row["id"], []))
            )
    return CatalogView(int(snapshot.get("version", 0)), backends, models, users)
