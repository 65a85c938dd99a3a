"""Request and response shapes of the admin API.

Bodies reuse the config file's models (`BackendConfig`, `ModelConfig`, `UserConfig`), so the
API accepts exactly the fields the file does. A PUT body is the same model with every field
optional (`partial`); the stored entity and the PUT are merged and the result is validated as
a whole with the config model, so cross-field rules (azure needs base_url) hold either way.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config.schema import NAME_MAX, BackendConfig, ModelConfig, UserConfig

T = TypeVar("T")


class DataList(BaseModel, Generic[T]):
    """Every list endpoint answers `{"data": [...]}`, as OpenAI's list endpoints do."""

    data: list[T]


def partial(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """`model` with every field optional and defaulting to None, its constraints kept.

    `model_dump(exclude_unset=True)` of a parsed body then says which fields the caller sent
    (nested models included), which is what a partial update merges.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default = None
        optional.default_factory = None
        annotation: Any = info.annotation
        fields[field_name] = (annotation | None, optional)
    config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, allow_inf_nan=False)
    built: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **fields)
    return built


if TYPE_CHECKING:  # built at import time; to a type checker they are just models
    BackendUpdate = BaseModel
    ModelUpdate = BaseModel
    UserUpdate = BaseModel
else:
    BackendUpdate = partial(
        BackendConfig,
        "BackendUpdate",
        "Fields to change; omitted fields keep their value, null resets a field to its "
        "default. `api_key`: omitted or null keeps the stored key, an empty string removes it.",
    )
    ModelUpdate = partial(
        ModelConfig,
        "ModelUpdate",
        "Fields to change; omitted fields keep their value, null resets a field to its default.",
    )
    UserUpdate = partial(
        UserConfig,
        "UserUpdate",
        "Fields to change; omitted fields keep their value, null resets a field to its "
        "default. Keys in `api_keys` are added to the user's keys (stored hashed); revoke one "
        "with DELETE /admin/keys/{id}.",
    )


def merge(
    model: type[BaseModel], stored: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """`stored` with `changes` applied, for a `model`. A nested model merges field by field (a
    PUT of `{"timeouts": {"idle": 10}}` keeps the other timeouts); a free-form map such as
    `headers` or `model_limits` is replaced, so an entry can be removed; null drops the key so
    the model's default applies; any other value replaces."""
    merged = dict(stored)
    for key, value in changes.items():
        nested = _nested_model(model, key)
        if value is None:
            merged.pop(key, None)
        elif nested is not None and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(nested, merged[key], value)
        else:
            merged[key] = value
    return merged


def _nested_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    field = model.model_fields.get(key)
    annotation = field.annotation if field is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class Stored(BaseModel):
    """Fields the catalog adds to every entity it stores."""

    id: str = Field(description="Stable id, used in URLs.")
    source: str = Field(
        description='"config": from the config file, read-only here; "api": made through this API.'
    )
    created_at: datetime
    updated_at: datetime


_READ = ConfigDict(extra="ignore", frozen=False)


class BackendOut(Stored, BackendConfig):
    """A backend as every read shows it: the config fields, `api_key` always null."""

    model_config = _READ
    api_key: None = Field(default=None, description="Write-only: always null in responses.")
    api_key_set: bool = Field(description="Whether an upstream API key is stored.")


class ModelOut(Stored, ModelConfig):
    """A public model name with its targets, as in the config file."""

    model_config = _READ


class KeyOut(BaseModel):
    """An API key without its secret: only the display prefix is ever stored in clear."""

    id: str
    user_id: str
    prefix: str = Field(description="The first characters of the key, for recognising it.")
    source: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyCreated(BaseModel):
    """A new key; `api_key` is shown in this response only and cannot be read back."""

    id: str
    user_id: str
    api_key: str
    prefix: str
    created_at: datetime


class UserOut(Stored, UserConfig):
    """A user with its keys (without secrets); `api_keys` is write-only and never shown."""

    model_config = _READ
    api_keys: list[str] = Field(default_factory=list, exclude=True)
    keys: list[KeyOut] = Field(default_factory=list, description="The user's keys, oldest first.")


class UserCreated(UserOut):
    """The new user, with the generated key at the top level (shown this once)."""

    api_key: str = Field(description="The generated API key; store it now, it is not kept.")


ID_MAX = 32  # catalog ids are 32 hex digits (storage/tables.py `_id`)

# "Exactly one of backend_id or model" in JSON Schema: one of them is a string and the other
# absent or null. `permissions.checked` refuses anything else with a 400 naming the field.
_ONE_GRANT: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["backend_id"],
            "properties": {"backend_id": {"type": "string"}, "model": {"type": "null"}},
        },
        {
            "required": ["model"],
            "properties": {"model": {"type": "string"}, "backend_id": {"type": "null"}},
        },
    ]
}


class PermissionIn(BaseModel):
    """A grant: `backend_id` (every model of that backend) or `model` (a glob), exactly one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_GRANT)

    user_id: str = Field(min_length=1, max_length=ID_MAX)
    backend_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX)
    model: str | None = Field(
        default=None, min_length=1, max_length=NAME_MAX, description='A glob, e.g. "gpt-4o*".'
    )


class PermissionUpdate(BaseModel):
    """Fields to change; to switch kinds, set the other one to null."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX)
    backend_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX)
    model: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)


class PermissionOut(BaseModel):
    id: str
    user_id: str
    backend_id: str | None
    model: str | None
    created_at: datetime


class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error or api_error.")
    code: str | None = Field(
        description="invalid_request, invalid_json, invalid_api_key, not_found, "
        "method_not_allowed, conflict, read_only or database_unavailable."
    )
    param: str | None = Field(description="The field path of a 400, e.g. targets[0].backend.")


class ErrorBody(BaseModel):
    """Every admin error: `{"error": {"message", "type", "code", "param"}}`."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "Invalid request: a parameter or body field (`param`) is invalid, or the change is "
    "refused (an unknown reference).",
    401: "No master key, or the wrong one.",
    404: "No entity with this id.",
    409: "`conflict`: a name is taken or the entity is still in use; `read_only`: the entity "
    "comes from the config file.",
    503: "`database_unavailable`: the database cannot be reached; try again later.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error body's schema."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class Attempt(BaseModel):
    backend: str
    model: str
    status_code: int | None
    error_type: str | None
    latency_ms: float


class RequestRow(BaseModel):
    """One request-log row (SPEC 6) without its bodies."""

    id: int
    request_id: str
    created_at: datetime
    user_id: str | None
    key_id: str | None
    path: str
    model: str | None
    resolved_model: str | None
    backend: str | None
    stream: bool
    status_code: int
    error_type: str | None
    error_message: str | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    usage_estimated: bool = Field(False, description="Tokens counted by us; none reported.")
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    attempts: list[Attempt]
    client_ip: str | None
    detail_logged: bool
    cache_hit: bool = Field(False, description="Answered from the response cache (cost 0).")
    guardrails: list[str] | None = Field(None, description="Guardrails that acted, by name.")
    resumed: bool = Field(False, description="A broken stream was continued elsewhere.")


class RequestDetail(RequestRow):
    """A row with its bodies, as text (JSON documents as JSON text); null unless the user
    has `detail_logging`."""

    request_body: str | None
    response_body: str | None


class RequestPage(BaseModel):
    rows: list[RequestRow] = Field(description="Newest first.")
    total: int = Field(description="Rows matching the filters, over all pages.")


class UsageGroup(BaseModel):
    group: str | None = Field(description="User id, model, backend or UTC day (YYYY-MM-DD).")
    requests: int
    errors: int = Field(description="Requests that ended with an error_type.")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


class UsageReport(BaseModel):
    group_by: str
    rows: list[UsageGroup]


class TimeseriesBucket(BaseModel):
    """One UTC minute, hour or day of the request log; an empty bucket has zero counts and
    null percentiles. Percentiles are nearest-rank (a logged value, no interpolation)."""

    start: datetime = Field(description="The bucket's first instant, UTC.")
    requests: int
    errors: int = Field(description="Requests that ended with an error_type.")
    status_2xx: int
    status_4xx: int
    status_5xx: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    ttft_ms_p50: float | None = Field(description="Over streamed requests with a first token.")
    ttft_ms_p95: float | None


class Timeseries(BaseModel):
    buckets: list[TimeseriesBucket] = Field(description="Oldest first, one per bucket, no gaps.")
