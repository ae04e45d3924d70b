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
    Column(
        "context_from",
        Float,
        nullable=False,
        default=0.0,
        doc="Turns created before this time are out of the model's context (/reset).",
    ),
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
    Column("route", String(64), nullable=True, doc="The policy route that answered, if any."),
    Column("tool_data", Text, nullable=True, doc="Tool calls made, or the call answered (JSON)."),
    Index("ix_turns_session_created", "session_key", "created_at"),
    Index("ix_turns_request", "request_id"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("request_id", String(64), primary_key=True, doc="The rated answer's turn."),
    Column("user_id", String(255), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("score", Integer, nullable=False, doc="1 for 👍, -1 for 👎."),
    Column("provider", String(128), nullable=True),
    Column("model", String(128), nullable=True),
    Column("route", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_ratings_updated", "updated_at"),
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
    Column(
        "owner",
        String(64),
        nullable=True,
        doc="The replica delivering the row (several replicas only); null: anyone may.",
    ),
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

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False, doc="admin, operator or viewer."),
    Column("password_hash", Text, nullable=False, doc="argon2id, PHC string format."),
    Column("totp_secret", String(255), nullable=True, doc="Base32 TOTP key (sealed); null: none."),
    Column("totp_last_step", Integer, nullable=True, doc="Last accepted TOTP step (no replay)."),
    Column(
        "must_change_password",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        doc="1: the console asks for a new password before anything else (installer's admin).",
    ),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("name", name="uq_admin_users_name"),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id", String(64), primary_key=True, doc="SHA-256 of the cookie token, never the token."),
    Column("user_id", Integer, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_admin_sessions_user", "user_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    Index("ix_audit_log_at", "at"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, doc="user:<name> or ip:<address>."),
    Column("at", Float, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False, doc="SHA-256 hex of the key (see admin/keys)."),
    Column("prefix", String(16), nullable=False, doc="First characters, to recognise a key."),
    Column(
        "scope",
        String(16),
        nullable=False,
        doc="all, openai (/v1), rest (/api/v1), or admin (all + chat admin commands).",
    ),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    UniqueConstraint("key_hash", name="uq_api_keys_hash"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("key_id", String(16), primary_key=True, doc="From the key itself; 'plain': none."),
    Column("state", String(16), nullable=False, doc="current, retiring (still used), retired."),
    Column("check_value", Text, nullable=True, doc="A constant sealed with it: proves the key."),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

store_jobs = Table(
    "store_jobs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(128), nullable=True, doc="Who runs it now (a lease)."),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("progress", Text, nullable=False, default="{}", doc="Where to resume (JSON)."),
    Column("updated_at", Float, nullable=False),
)

scheduled_tasks = Table(
    "scheduled_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, doc="reminder, or job (an admin schedule's run)."),
    Column(
        "job", String(64), nullable=False, default="", doc="The schedule's name; '' for a reminder."
    ),
    Column("channel", String(32), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("user_id", String(255), nullable=False, default=""),
    Column("target", Text, nullable=False, doc="Where it goes: the ReplyTarget's JSON."),
    Column("text", Text, nullable=False, doc="The reminder, or the job's message or prompt."),
    Column("due_at", Float, nullable=False),
    Column("status", String(16), nullable=False, doc="pending, running, sent, cancelled, missed."),
    Column("owner", String(128), nullable=True, doc="Who runs it now (a lease)."),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("job", "due_at", "session_key", name="uq_scheduled_tasks_run"),
    Index("ix_scheduled_tasks_due", "status", "due_at"),
    Index("ix_scheduled_tasks_user", "session_key", "user_id", "status"),
)

schedule_state = Table(
    "schedule_state",
    metadata,
    Column("name", String(64), primary_key=True, doc="An admin schedule's name."),
    Column("next_due", Float, nullable=False, doc="Its next run not yet turned into a task."),
    Column("paused", Integer, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
)

archive_objects = Table(
    "archive_objects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("object_key", String(512), nullable=False),
    Column("session_key", String(255), nullable=False),
    Column("day", String(10), nullable=False, doc="UTC day of its turns, YYYY-MM-DD."),
    Column("first_turn_id", Integer, nullable=False),
    Column("last_turn_id", Integer, nullable=False),
    Column("turns", Integer, nullable=False),
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("size", Integer, nullable=False, doc="Bytes of the compressed object."),
    Column("sha256", String(64), nullable=False),
    Column("key_ids", String(255), nullable=False, default="", doc="Data keys inside; ''."),
    Column("archived_at", Float, nullable=False),
    Column("restored_at", Float, nullable=True, doc="Its turns are back in the database."),
    Column("manifest", String(512), nullable=True, doc="The manifest object listing it."),
    UniqueConstraint("object_key", name="uq_archive_objects_key"),
    Index("ix_archive_objects_session", "session_key", "day"),
)

token_signing_keys = Table(
    "token_signing_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kid", String(64), nullable=False, doc="The `kid` of the tokens it signs."),
    Column("algorithm", String(16), nullable=False, doc="EdDSA or ES256."),
    Column("private_key", Text, nullable=False, doc="PKCS#8 PEM (sealed); never leaves."),
    Column("public_jwk", Text, nullable=False, doc="Its public half as a JWK (JSON)."),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("kid", name="uq_token_signing_keys_kid"),
)

token_revocations = Table(
    "token_revocations",
    metadata,
    Column("jti", String(64), primary_key=True, doc="The revoked token's id."),
    Column("expires_at", Float, nullable=False, doc="Its `exp`: the row is useless after it."),
)

media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_key", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("request_id", String(64), nullable=False, doc="The message (and turn) it came with."),
    Column("kind", String(8), nullable=False, doc="image, audio or file."),
    Column("mime", String(128), nullable=False),
    Column("name", String(255), nullable=False, default="", doc="Sanitised file name."),
    Column("size", Integer, nullable=False),
    Column("blob", String(64), nullable=False, doc="SHA-256 hex: the file in the blob store."),
    Column("created_at", Float, nullable=False),
    Index("ix_media_session", "session_key", "created_at"),
    Index("ix_media_user", "user_id", "created_at"),
    Index("ix_media_request", "request_id"),
)

message_log = Table(
    "message_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, doc="When the message was handled."),
    Column("channel", String(32), nullable=False),
    Column("provider", String(128), nullable=True, doc="The model that answered; null: none."),
    Column("failed", Integer, nullable=False, default=0, doc="1: it ended in an error."),
    Column("seconds", Float, nullable=False, doc="Time to answer, queueing excluded."),
    Column("tokens", Integer, nullable=False, default=0),
    Index("ix_message_log_at", "at"),
)
