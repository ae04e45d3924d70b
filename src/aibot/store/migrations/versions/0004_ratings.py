"""User ratings of answers (👍/👎), and the route that produced each answer.

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
    op.add_column("turns", sa.Column("route", sa.String(64), nullable=True))
    op.create_index("ix_turns_request", "turns", ["request_id"])
    op.create_table(
        "ratings",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("session_key", sa.String(255), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("provider", sa.String(128), nullable=True),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("route", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_ratings_updated", "ratings", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_ratings_updated", "ratings")
    op.drop_table("ratings")
    op.drop_index("ix_turns_request", "turns")
    op.drop_column("turns", "route")
