"""Columns for the response cache, guardrails and stream resume (issues 13 and 14).

request_logs gains `cache_hit`, `guardrails` (names of the guardrails that acted) and
`resumed`; models gain `guardrails` (NULL: all) and `stream_resume_attempts`, so a model made
through the admin API can use both like one from the config file.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_logs") as batch:
        batch.add_column(
            sa.Column("cache_hit", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("guardrails", sa.JSON()))
        batch.add_column(
            sa.Column("resumed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("guardrails", sa.JSON()))
        batch.add_column(
            sa.Column("stream_resume_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("stream_resume_attempts")
        batch.drop_column("guardrails")
    with op.batch_alter_table("request_logs") as batch:
        batch.drop_column("resumed")
        batch.drop_column("guardrails")
        batch.drop_column("cache_hit")
