"""Initial schema: catalog tables, request_logs with its query indexes, meta.catalog_version.

Written by hand to match `storage/tables.py`; `tests/storage/test_migrate.py` checks with
Alembic's comparison that no difference remains on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _common(table: str, *, updated: bool = True) -> list[SchemaItem]:
    items: list[SchemaItem] = [
        sa.Column("source", sa.String(16), nullable=False, server_default="api"),
        sa.Column("created_at", TS, nullable=False),
    ]
    if updated:
        items.append(sa.Column("updated_at", TS, nullable=False))
    items.append(sa.PrimaryKeyConstraint("id", name=f"pk_{table}"))
    return items


def upgrade() -> None:
    op.create_table(
        "backends",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("base_url", sa.Text()),
        sa.Column("api_key", sa.Text()),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("responses", sa.String(16), nullable=False, server_default="translate"),
        sa.Column("timeouts", sa.JSON(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False, server_default="2"),
        sa.Column("cooldown", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        *_common("backends"),
        sa.UniqueConstraint("name", name="uq_backends_name"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False, server_default="weighted"),
        sa.Column("fallbacks", sa.JSON(), nullable=False),
        sa.Column("input_per_mtok", sa.Float(), nullable=False, server_default="0"),
        sa.Column("output_per_mtok", sa.Float(), nullable=False, server_default="0"),
        *_common("models"),
        sa.UniqueConstraint("name", name="uq_models_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("rpm", sa.Integer()),
        sa.Column("tpm", sa.Integer()),
        sa.Column("budget_usd", sa.Float()),
        sa.Column("budget_period", sa.String(16), nullable=False, server_default="month"),
        sa.Column("model_limits", sa.JSON(), nullable=True),
        sa.Column("detail_logging", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "copy_reasoning_to_reasoning_content",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
        *_common("users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        *_common("api_keys", updated=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_keys_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "permissions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("backend_id", sa.String(32)),
        sa.Column("model", sa.String(200)),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_permissions"),
        sa.CheckConstraint(
            "(backend_id IS NULL) <> (model IS NULL)", name="ck_permissions_backend_xor_model"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_permissions_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["backend_id"],
            ["backends.id"],
            name="fk_permissions_backend_id_backends",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_permissions_user_id", "permissions", ["user_id"])
    op.create_index("ix_permissions_backend_id", "permissions", ["backend_id"])
    op.create_table(
        "request_logs",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("user_id", sa.String(32)),
        sa.Column("key_id", sa.String(32)),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("resolved_model", sa.String(200)),
        sa.Column("backend", sa.String(200)),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(64)),
        sa.Column("error_message", sa.Text()),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Float(), nullable=False, server_default="0"),
        sa.Column("ttft_ms", sa.Float()),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("client_ip", sa.String(64)),
        sa.Column("detail_logged", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("request_body", sa.Text()),
        sa.Column("response_body", sa.Text()),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_request_logs"),
    )
    for columns in (
        ["created_at", "id"],
        ["user_id", "created_at", "id"],
        ["model", "created_at", "id"],
        ["backend", "created_at", "id"],
        ["status_code", "created_at", "id"],
        ["error_type", "created_at", "id"],
        ["request_id"],
    ):
        op.create_index(f"ix_request_logs_{'_'.join(columns)}", "request_logs", columns)
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.bulk_insert(meta, [{"key": "catalog_version", "value": "0"}])


def downgrade() -> None:
    for table in ("meta", "request_logs", "permissions", "api_keys", "users", "models", "backends"):
        op.drop_table(table)
