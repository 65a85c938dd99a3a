"""backends.api_version: the Azure OpenAI `api-version` of an azure backend (null elsewhere).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backends") as batch:
        batch.add_column(sa.Column("api_version", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backends") as batch:
        batch.drop_column("api_version")
