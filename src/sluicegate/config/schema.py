"""Typed configuration: the YAML file of SPEC section 2 as pydantic models, unknown keys refused.

Cross-references (a target's backend, a fallback's model) are checked by `validate_references`
so that `check-config` reports them with the same path-style names as field errors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .content import CacheConfig, GuardrailConfig
from .fields import (
    INT_MAX,
    NAME_MAX,
    TEXT_MAX,
    HeaderName,
    HeaderValue,
    Name,
    Strict,
    Text,
)

__all__ = ["INT_MAX", "NAME_MAX", "TEXT_MAX", "HeaderName", "HeaderValue", "Name", "Strict", "Text"]


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=0, le=65535)
    master_key: str | None = None
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Not in the SPEC's example; SPEC 4.7 fixes 15 s, tests shorten it.
    keepalive_seconds: float = Field(default=15.0, gt=0)
    # SIGTERM/SIGINT: in-flight requests get this long to finish (SPEC 4.8).
    drain_seconds: float = Field(default=30.0, ge=0, le=86400)
    # Per process; above it new requests get 503 overloaded. None: no limit.
    max_inflight: int | None = Field(default=None, ge=1)
    # Slow or oversized clients (not in the SPEC): a client gets this long to send its request
    # line and headers (408 after), and its body (408), and this many header bytes (431).
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_header_bytes: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)


class DatabaseConfig(Strict):
    url: str = "sqlite+aiosqlite:///./sluicegate.db"


class RedisConfig(Strict):
    url: str | None = None


class LoggingConfig(Strict):
    detail_stream_log_mode: Literal["compact", "raw"] = "compact"
    # Request log rows older than this are deleted (hourly); None keeps everything.
    retention_days: int | None = Field(default=None, ge=1)
    # Where log rows wait while the database is unreachable (default: beside a SQLite file,
    # else ./sluicegate-spool).
    spool_dir: str | None = None
    # A row whose request finished longer ago than this is in the database or in a spool file
    # (page cache), so a killed process loses at most the rows of the last this-many seconds.
    durable_after_seconds: float = Field(default=1.0, gt=0)
    # Process logs on stderr (docs/logging.md): one human line or one JSON object per record.
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"
    # One `sluicegate.access` line per inference request, from its Completion.
    access_log: bool = True


class LiveConfig(Strict):
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Live-log events kept per process for resuming with a cursor (two per request).
    buffer_events: int = Field(default=5000, ge=2, le=1_000_000)
    # How far behind the newest event one subscriber may fall before it is reset and cut off.
    queue_events: int = Field(default=1000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _queue_within_buffer(self) -> LiveConfig:
        if self.queue_events > self.buffer_events:
            raise ValueError("live.queue_events must not exceed live.buffer_events")
        return self


class TelemetryConfig(Strict):
    """OpenTelemetry traces over OTLP/HTTP (SPEC 13; docs/telemetry.md); off while no endpoint."""

    # The collector's base URL (`/v1/traces` is appended unless the URL already ends in it).
    otlp_endpoint: Text | None = Field(default=None, pattern=r"^https?://\S+$")
    service_name: Name = "sluicegate"
    # Not in the SPEC: how long finished spans wait in the batch before they are sent.
    export_interval_seconds: float = Field(default=1.0, gt=0, le=60)

    @property
    def traces_url(self) -> str | None:
        endpoint = self.otlp_endpoint
        if not endpoint:
            return None
        endpoint = endpoint.rstrip("/")
        return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class Timeouts(Strict):
    """Seconds. Non-stream requests are bounded by connect and total only."""

    connect: float = Field(default=5.0, gt=0)
    first_token: float = Field(default=60.0, gt=0)
    idle: float = Field(default=60.0, gt=0)
    total: float = Field(default=600.0, gt=0)


class Cooldown(Strict):
    failures: int = Field(default=3, ge=1, le=INT_MAX)
    seconds: float = Field(default=30.0, ge=0)


BackendType = Literal["openai", "anthropic", "gemini", "azure", "demo"]


class BackendConfig(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"^[A-Za-z0-9_.\-]+$")
    type: BackendType
    base_url: Text | None = None
    api_key: Text | None = None
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    responses: Literal["translate", "native"] = "translate"
    timeouts: Timeouts = Field(default_factory=Timeouts)
    max_retries: int = Field(default=2, ge=0, le=10)
    cooldown: Cooldown = Field(default_factory=Cooldown)
    # Optional list of upstream model names, shown in /v1/models as "<backend>/<model>".
    models: list[Name] = Field(default_factory=list)
    # Azure OpenAI only: the `api-version` query parameter (None: AZURE_API_VERSION).
    api_version: str | None = Field(default=None, min_length=1, max_length=32)
    # openai only: a stream continuation (SPEC 4.9) also sends vLLM's and SGLang's
    # `continue_final_message: true, add_generation_prompt: false`.
    continue_final_message: bool = False

    @model_validator(mode="after")
    def _base_url_needed(self) -> BackendConfig:
        if self.type == "azure" and not self.base_url:
            raise ValueError("backend type 'azure' needs base_url")
        if self.api_version is not None and self.type != "azure":
            raise ValueError(f"api_version applies to azure backends only, not '{self.type}'")
        if self.continue_final_message and self.type != "openai":
            raise ValueError(
                f"continue_final_message applies to openai backends only, not '{self.type}'"
            )
        if self.responses == "native" and self.type != "openai":
            raise ValueError(
                f"responses: native applies to openai backends only, not '{self.type}'"
            )
        return self

    @property
    def effective_base_url(self) -> str:
        """base_url, or the provider's public API when it is left out."""
        if self.base_url:
            return self.base_url
        return _DEFAULT_BASE_URLS.get(self.type, "")


# The newest generally available Azure OpenAI data-plane version when this was written.
AZURE_API_VERSION = "2024-10-21"

_DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


class TargetConfig(Strict):
    backend: Name
    model: Name
    weight: float = Field(default=1.0, gt=0)


class PricingConfig(Strict):
    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)


Strategy = Literal["weighted", "round_robin", "least_busy", "lowest_latency"]


class ModelConfig(Strict):
    name: Name
    targets: list[TargetConfig] = Field(min_length=1)
    strategy: Strategy = "weighted"
    fallbacks: list[Name] = Field(default_factory=list)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    # Only these guardrails (by name) for this model; None: every configured guardrail.
    guardrails: list[Name] | None = None
    # > 0: a stream broken after text was sent is continued on another target (SPEC 4.9).
    stream_resume_attempts: int = Field(default=0, ge=0, le=10)


class ModelLimit(Strict):
    rpm: int | None = Field(default=None, ge=0, le=INT_MAX)
    tpm: int | None = Field(default=None, ge=0, le=INT_MAX)


class UserConfig(Strict):
    name: Name
    # The loader drops empty keys (an unset ${VAR}) before validation, with a warning.
    api_keys: list[Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]] = Field(
        default_factory=list
    )
    models: list[Name] = Field(default_factory=list)
    rpm: int | None = Field(default=None, ge=0, le=INT_MAX)
    tpm: int | None = Field(default=None, ge=0, le=INT_MAX)
    budget_usd: float | None = Field(default=None, ge=0)
    budget_period: Literal["day", "week", "month"] = "month"
    # Per model name (as clients ask for it), limits on top of the user's own.
    model_limits: dict[Name, ModelLimit] = Field(default_factory=dict)
    detail_logging: bool = False
    copy_reasoning_to_reasoning_content: bool = False


class HookConfig(Strict):
    """A user hook: `module.path:ClassName`, built as `ClassName(**options)` (docs/hooks.md)."""

    class_: str = Field(alias="class", pattern=r"^[\w.]+:[\w]+$")
    options: dict[str, Any] = Field(default_factory=dict)


class GatewayConfig(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    backends: list[BackendConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    hooks: list[HookConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    guardrails: list[GuardrailConfig] = Field(default_factory=list)

    def backend(self, name: str) -> BackendConfig | None:
        return next((b for b in self.backends if b.name == name), None)


def validate_references(config: GatewayConfig) -> list[str]:
    """Problems no single field can see, each prefixed with its path in the file."""
    problems: list[str] = []
    backend_names = [b.name for b in config.backends]
    model_names = [m.name for m in config.models]
    for i, name in enumerate(backend_names):
        if name in backend_names[:i]:
            problems.append(f"backends[{i}].name: duplicate backend '{name}'")
    for i, name in enumerate(model_names):
        if name in model_names[:i]:
            problems.append(f"models[{i}].name: duplicate model '{name}'")
    known_backends = set(backend_names)
    known_models = set(model_names)
    for i, model in enumerate(config.models):
        for j, target in enumerate(model.targets):
            if target.backend not in known_backends:
                problems.append(
                    f"models[{i}].targets[{j}].backend: unknown backend '{target.backend}'"
                )
        for j, fallback in enumerate(model.fallbacks):
            if fallback == model.name:
                problems.append(f"models[{i}].fallbacks[{j}]: a model cannot fall back to itself")
            elif fallback not in known_models:
                problems.append(f"models[{i}].fallbacks[{j}]: unknown model '{fallback}'")
    if config.cache.mode == "redis" and not config.redis.url:
        problems.append("cache.mode: redis needs redis.url")
    guardrail_names = [g.name for g in config.guardrails]
    for i, name in enumerate(guardrail_names):
        if name in guardrail_names[:i]:
            problems.append(f"guardrails[{i}].name: duplicate guardrail '{name}'")
    for i, model in enumerate(config.models):
        for j, name in enumerate(model.guardrails or ()):
            if name not in guardrail_names:
                problems.append(f"models[{i}].guardrails[{j}]: unknown guardrail '{name}'")
    user_names = [u.name for u in config.users]
    seen_keys: set[str] = set()
    for i, user in enumerate(config.users):
        if user.name in user_names[:i]:
            problems.append(f"users[{i}].name: duplicate user '{user.name}'")
        for j, key in enumerate(user.api_keys):
            if not key:
                problems.append(f"users[{i}].api_keys[{j}]: empty key")
            elif key in seen_keys:
                problems.append(f"users[{i}].api_keys[{j}]: key already used by another entry")
            seen_keys.add(key)
    return problems
