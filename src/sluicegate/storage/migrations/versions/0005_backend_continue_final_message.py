"""Backends gain `continue_final_message` (issue 14): an OpenAI-compatible backend (vLLM,
SGLang) asked to continue a broken stream also gets `continue_final_message: true,
add_generation_prompt: false`; stored so an admin-API backend can use it like a config one.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backends") as batch:
        batch.add_column(
            sa.Column(
                "continue_final_message", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("backends") as batch:
        batch.drop_column("continue_final_message")
