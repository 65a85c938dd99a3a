"""What LiteLLM settings become where no model is involved: the database URL, and the note each
well-known unmapped key gets in the start warning and in `import-litellm`'s comments."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .values import Values

# Query parameters of Prisma's PostgreSQL URLs (LiteLLM's ORM) that asyncpg does not take.
_PRISMA_ONLY = {"connection_limit", "pool_timeout", "pgbouncer", "schema", "socket_timeout"}
_PRISMA_ONLY |= {"connect_timeout", "statement_cache_size"}

_HOOKS = "not mapped: write a hook (docs/hooks.md) or read the request log / live logs"
_KEYS = "not mapped: keys, users and budgets are sluicegate's own (users:, admin API)"
NOTES: dict[str, str] = {
    "drop_params": "not mapped: sluicegate forwards parameters as sent; the upstream judges them",
    "success_callback": _HOOKS,
    "failure_callback": _HOOKS,
    "callbacks": _HOOKS,
    "service_callback": _HOOKS,
    "alerting": _HOOKS,
    "set_verbose": "not mapped: logging is configured by sluicegate's own settings",
    "json_logs": "not mapped: logging is configured by sluicegate's own settings",
    "max_budget": _KEYS,
    "budget_duration": _KEYS,
    "max_parallel_requests": "not mapped: see server.max_inflight and users[].rpm",
    "context_window_fallbacks": "not mapped: sluicegate falls back on any failure before the "
    "first byte (fallbacks), not by error kind",
    "content_policy_fallbacks": "not mapped: sluicegate falls back on any failure before the "
    "first byte (fallbacks), not by error kind",
    "model_info": "not mapped: LiteLLM's model metadata",
    "rpm_limit": _KEYS,
    "tpm_limit": _KEYS,
    "store_model_in_db": "not mapped: models are always stored and editable (admin API)",
    "environment_variables": "not mapped when printed: set these variables in the environment",
    "guardrails": "not mapped: sluicegate's guardrails are configured differently",
    "credential_list": "not mapped: put api_key/api_base on each deployment",
    "litellm_credential_name": "not mapped: put api_key/api_base on the deployment",
}


def database_url(v: Values, general: dict[str, Any]) -> str | None:
    """LiteLLM's PostgreSQL URL (`general_settings.database_url` or DATABASE_URL) for asyncpg."""
    path = "general_settings.database_url"
    raw = general.get("database_url")
    if raw is None:
        if v.env is None:
            return None
        raw, path = v.env.get("DATABASE_URL"), "DATABASE_URL"
        if not raw:
            return None
    url = v.text(raw, path)
    if url is None:
        return None
    if url.startswith("${"):
        v.skip(path, f"set database.url to {url} as postgresql+asyncpg://… (asyncpg driver)")
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        v.skip(path, "not mapped: LiteLLM's database is PostgreSQL (postgresql://…)")
        return None
    query = [(k, val) for k, val in parse_qsl(parts.query) if k not in _PRISMA_ONLY]
    # libpq's sslmode is asyncpg's ssl (SQLAlchemy passes it through as a connect argument).
    query = [("ssl" if k == "sslmode" else k, val) for k, val in query]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))
