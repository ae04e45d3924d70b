"""Table definitions (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Times are UNIX seconds as floats: portable between SQLite and PostgreSQL and cheap to compare.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("session_key", String(255), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("user_id", String(255), nullable=False, default=""),
    Column("model", String(128), nullable=True, doc="Provider picked with /model, if any."),
    Column("context_from", Float, nullable=False, default=0.0,
           doc="Turns created before this time are out of the model's context (/reset)."),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_key", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("reasoning", Text, nullable=True),
    Column("provider", String(128), nullable=True),
    Column("model", String(128), nullable=True),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("request_id", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_turns_session_created", "session_key", "created_at"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("target", Text, nullable=False, default="{}", doc="Channel data for the reply (JSON)."),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("channel", "message_id", name="uq_inbox_channel_message"),
    Index("ix_inbox_status", "status", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("inbox_id", Integer, nullable=True),
    Column("channel", String(32), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("target", Text, nullable=False, default="{}"),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

pairings = Table(
    "pairings",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("code", String(16), nullable=False),
    Column("status", String(16), nullable=False, doc="pending, then approved by an admin."),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, doc="A pending code is void after this."),
    Column("approved_at", Float, nullable=True),
    UniqueConstraint("code", name="uq_pairings_code"),
)
