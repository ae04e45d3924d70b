"""Store code that builds its own SQL, on SQLite, PostgreSQL and MariaDB alike."""

from __future__ import annotations

from sqlalchemy import insert, select

from aibot.config import RetentionConfig
from aibot.store.database import Database
from aibot.store.maintenance import purge
from aibot.store.schema import message_log, turns

DAY = 86400.0


async def test_purge_deletes_old_turns_and_message_rows_in_batches(sql_engine: Database) -> None:
    now = 1_765_000_000.0
    rows = [
        {
            "session_key": "s",
            "role": "user",
            "content": str(i),
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "created_at": now - (10 + i) * DAY,
        }
        for i in range(10)
    ]
    logged = [
        {"at": row["created_at"], "channel": "api", "failed": 0, "seconds": 1.0, "tokens": 1}
        for row in rows
    ]
    async with sql_engine.begin() as connection:
        await connection.execute(insert(turns), rows)
        await connection.execute(insert(message_log), logged)
    deleted = await purge(sql_engine, RetentionConfig(turns_days=13.5), now, batch=3)
    assert deleted["turns"] == 6 and deleted["message_log"] == 6  # the dashboard's rows too
    async with sql_engine.connect() as connection:
        kept = (await connection.execute(select(turns.c.content))).scalars().all()
    assert sorted(int(c) for c in kept) == [0, 1, 2, 3]
