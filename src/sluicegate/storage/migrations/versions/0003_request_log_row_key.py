"""request_logs.row_key: the log writer's unique key for a row, so replays are idempotent.

A spool file may hold rows that also reached the database (an insert that overran the
durability bound was journaled and then committed, or a replay was killed between its commit
and removing the file); inserts skip a row whose key is already there. Nullable: rows written
before this revision have none, and NULLs never collide.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("request_logs", sa.Column("row_key", sa.String(32)))
    op.create_index("ix_request_logs_row_key", "request_logs", ["row_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_request_logs_row_key", table_name="request_logs")
    op.drop_column("request_logs", "row_key")
