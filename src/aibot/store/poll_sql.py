"""The background reads' SQL, shared by PostgreSQL's raw asyncpg connections (store/pg_read.py)
and a SQLite file's plain sqlite3 connection (store/sqlite_read.py): the outbox poll, the inbox
rescan and its backlog (store/queues.py `QueuePolls`), the scheduler's tick (store/schedules.py
`ScheduleReads`) and the API keys' refresh (store/api_keys.py `KeyReads`). Written with
PostgreSQL's `$n` parameters; `sqlite` turns them into SQLite's `?n`, which mean the same."""

from __future__ import annotations

import re

# The columns `rows.inbox_row` and `rows.outbox_row` read, pending oldest first, as the
# engine's queries in queues.py select them; `{channels}` leaves out the paused channels.
_POLL_INBOX = (
    "SELECT id, channel, message_id, session_key, user_id, text, target, received_at, attempts"
    " FROM inbox WHERE status = 'pending' AND {channels} ORDER BY id LIMIT $1"
)
POLL_INBOX_SQL = _POLL_INBOX.format(channels="channel <> ALL($2::text[])")
POLL_OUTBOX_SQL = (
    "SELECT id, inbox_id, channel, session_key, target, text, attempts, created_at,"
    " next_attempt_at, owner FROM outbox WHERE status = 'pending' ORDER BY id LIMIT $1"
)
BACKLOG_SQL = "SELECT count(*), min(received_at) FROM inbox WHERE status = 'pending'"
# The due tasks as `ScheduleRows.due` selects them, and the admin schedules' states.
DUE_TASKS_SQL = (
    "SELECT id, kind, job, channel, session_key, user_id, target, text, due_at, status, attempts"
    " FROM scheduled_tasks WHERE (status = 'pending' AND due_at <= $1)"
    " OR (status = 'running' AND lease_until < $1) ORDER BY due_at LIMIT $2"
)
JOB_STATES_SQL = "SELECT name, next_due, paused FROM schedule_state"
UNREVOKED_KEYS_SQL = "SELECT id, key_hash, scope, expires_at FROM api_keys WHERE revoked_at IS NULL"

_PARAMETER = re.compile(r"\$(\d+)")


def sqlite(sql: str) -> str:
    """The statement with SQLite's numbered parameters (`?1` for `$1`)."""
    return _PARAMETER.sub(r"?\1", sql)


# SQLite has no arrays: the paused channels come as one JSON array, read by json_each.
SQLITE_POLL_INBOX_SQL = sqlite(
    _POLL_INBOX.format(channels="channel NOT IN (SELECT value FROM json_each($2))")
)
