"""Pictures, voice and files users sent: one row per attachment, its bytes in the blob store.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_key", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_media_session", "media", ["session_key", "created_at"])
    op.create_index("ix_media_user", "media", ["user_id", "created_at"])
    op.create_index("ix_media_request", "media", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_media_request", "media")
    op.drop_index("ix_media_user", "media")
    op.drop_index("ix_media_session", "media")
    op.drop_table("media")
