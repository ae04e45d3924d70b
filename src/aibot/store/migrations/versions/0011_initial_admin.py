"""The installer's first console admin: a flag that makes the console ask for a new password
before anything else.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "admin_users",
        sa.Column("must_change_password", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("admin_users", "must_change_password")
