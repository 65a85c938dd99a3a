"""Schema: every table as SQLAlchemy Core, the one source the migrations are checked against.

String ids are `uuid4().hex` made in Python (`new_id`); times are timezone-aware UTC
(`UTCDateTime` stores naive UTC text on SQLite, `timestamptz` on PostgreSQL).

request_logs indexes (one million rows must stay fast):

    (created_at, id)                 newest-first listing with limit/offset, time ranges,
                                     usage by day, delete_older_than
    (user_id, created_at, id)        \
    (model, created_at, id)           |  each filter combined with a time range and
    (backend, created_at, id)         |  newest-first order is one index range scan read
    (status_code, created_at, id)     |  backwards; counts for a filter are index-only
    (error_type, created_at, id)     /
    (request_id)                     look-up by the client's x-request-id (not unique:
                                     clients may reuse it)
    (row_key) unique                 the writer's own key for a row: replaying a spool file
                                     that was (partly) written already adds nothing twice
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, always handed back in UTC on both backends."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; storage keeps timezone-aware UTC times")
        value = value.astimezone(UTC)
        # SQLite has no time zones: keep UTC wall time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Integer on SQLite so the column is the rowid and autoincrements; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column[str]:
    return Column("id", String(32), primary_key=True, default=new_id)


def _source() -> Column[str]:
    return Column("source", String(16), nullable=False, server_default="api")


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False, default=utcnow)


def _updated() -> Column[datetime]:
    return Column("updated_at", UTCDateTime(), nullable=False, default=utcnow)


backends = Table(
    "backends",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("base_url", Text),
    Column("api_key", Text),  # as given: the gateway must send it; the admin API redacts it
    Column("headers", JSON, nullable=False, default=dict),
    Column("responses", String(16), nullable=False, server_default="translate"),
    Column("timeouts", JSON, nullable=False, default=dict),
    Column("max_retries", Integer, nullable=False, server_default="2"),
    Column("cooldown", JSON, nullable=False, default=dict),
    Column("models", JSON, nullable=False, default=list),
    Column("api_version", String(32)),
    Column("continue_final_message", Boolean, nullable=False, server_default=false()),
    _source(),
    _created(),
    _updated(),
)

models = Table(
    "models",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("targets", JSON, nullable=False, default=list),  # [{backend, model, weight}]
    Column("strategy", String(32), nullable=False, server_default="weighted"),
    Column("fallbacks", JSON, nullable=False, default=list),
    Column("input_per_mtok", Float, nullable=False, server_default="0"),
    Column("output_per_mtok", Float, nullable=False, server_default="0"),
    Column("guardrails", JSON),  # names; NULL: every configured guardrail (revision 0004)
    Column("stream_resume_attempts", Integer, nullable=False, server_default="0"),
    _source(),
    _created(),
    _updated(),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("models", JSON, nullable=False, default=list),  # globs
    Column("rpm", Integer),
    Column("tpm", Integer),
    Column("budget_usd", Float),
    Column("budget_period", String(16), nullable=False, server_default="month"),
    Column("model_limits", JSON),  # {model name: {rpm, tpm}}
    Column("detail_logging", Boolean, nullable=False, server_default=false()),
    Column("copy_reasoning_to_reasoning_content", Boolean, nullable=False, server_default=false()),
    _source(),
    _created(),
    _updated(),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # hex sha256
    Column("prefix", String(32), nullable=False),
    _source(),
    _created(),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Index(None, "user_id"),
)

permissions = Table(
    "permissions",
    metadata,
    _id(),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("backend_id", String(32), ForeignKey("backends.id", ondelete="CASCADE")),
    Column("model", String(200)),  # glob
    _created(),
    CheckConstraint("(backend_id IS NULL) <> (model IS NULL)", name="backend_xor_model"),
    Index(None, "user_id"),
    Index(None, "backend_id"),
)

request_logs = Table(
    "request_logs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("user_id", String(32)),
    Column("key_id", String(32)),
    Column("path", String(200), nullable=False),
    Column("model", String(200)),
    Column("resolved_model", String(200)),
    Column("backend", String(200)),
    Column("stream", Boolean, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error_type", String(64)),
    Column("error_message", Text),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("total_tokens", Integer, nullable=False, server_default="0"),
    Column("cost_usd", Float, nullable=False, server_default="0"),
    Column("latency_ms", Float, nullable=False, server_default="0"),
    Column("ttft_ms", Float),
    Column("attempts", JSON, nullable=False, default=list),
    Column("client_ip", String(64)),
    Column("detail_logged", Boolean, nullable=False, server_default=false()),
    Column("request_body", Text),
    Column("response_body", Text),
    Column("usage_estimated", Boolean, nullable=False, server_default=false()),
    # Made by the log writer (`request_log.new_row_key`); NULL on rows older than revision 0003.
    Column("row_key", String(32)),
    # Revision 0004: answered from the response cache; guardrails that acted (names); the
    # stream was continued on another target after breaking (SPEC 4.9).
    Column("cache_hit", Boolean, nullable=False, server_default=false()),
    Column("guardrails", JSON),
    Column("resumed", Boolean, nullable=False, server_default=false()),
    Index(None, "created_at", "id"),
    Index(None, "user_id", "created_at", "id"),
    Index(None, "model", "created_at", "id"),
    Index(None, "backend", "created_at", "id"),
    Index(None, "status_code", "created_at", "id"),
    Index(None, "error_type", "created_at", "id"),
    Index(None, "request_id"),
    Index(None, "row_key", unique=True),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

CATALOG_VERSION_KEY = "catalog_version"
