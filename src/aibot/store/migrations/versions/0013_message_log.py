"""One row per handled message (no text): the console dashboard's history of messages, errors,
latency and tokens per channel and provider, which outlives restarts and covers every replica.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(128), nullable=True),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
    )
    op.create_index("ix_message_log_at", "message_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_message_log_at", "message_log")
    op.drop_table("message_log")
