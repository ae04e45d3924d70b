"""Retention: delete rows older than `retention.*` in small batches, safe beside a running gateway.

Pending inbox and outbox rows are never touched (they are work not yet done), and handled inbox
rows are kept at least a day because platform re-deliveries are recognised by matching them.
Each batch is its own short transaction so the gateway's writer is never blocked for long.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, and_, delete, select

from aibot.config import RetentionConfig
from aibot.store.database import Database
from aibot.store.schema import conversations, inbox, media, message_log, outbox, turns

DAY = 86400.0
BATCH = 1000


async def purge(
    engine: Database, retention: RetentionConfig, now: float, batch: int = BATCH
) -> dict[str, int]:
    """Deletes what retention allows; returns the number of rows deleted per table."""
    deleted: dict[str, int] = {}
    if retention.turns_days is not None:
        cutoff = now - retention.turns_days * DAY
        deleted["turns"] = await _delete_batches(
            engine, turns, turns.c.id, turns.c.created_at < cutoff, batch
        )
        deleted["conversations"] = await _delete_batches(
            engine,
            conversations,
            conversations.c.session_key,
            conversations.c.updated_at < cutoff,
            batch,
        )
        deleted["message_log"] = await _delete_batches(
            engine, message_log, message_log.c.id, message_log.c.at < cutoff, batch
        )
    if retention.media_days is not None:
        # The rows here; the files are removed by the blob store's own purge (`ai-bot maintenance`).
        deleted["media"] = await _delete_batches(
            engine, media, media.c.id, media.c.created_at < now - retention.media_days * DAY, batch
        )
    deleted["inbox"] = await _delete_batches(
        engine,
        inbox,
        inbox.c.id,
        and_(inbox.c.status != "pending", inbox.c.updated_at < now - retention.inbox_days * DAY),
        batch,
    )
    deleted["outbox"] = await _delete_batches(
        engine,
        outbox,
        outbox.c.id,
        and_(outbox.c.status != "pending", outbox.c.updated_at < now - retention.outbox_days * DAY),
        batch,
    )
    return deleted


async def _delete_batches(
    engine: Database,
    table: Table,
    key: ColumnElement[object],
    condition: ColumnElement[bool],
    batch: int,
) -> int:
    total = 0
    if engine.dialect.name == "mysql":
        # MySQL refuses LIMIT in an IN subquery, and a subquery on the table being deleted
        # from; it has DELETE … LIMIT instead.
        statement = delete(table).where(condition).with_dialect_options(mysql_limit=batch)
    else:
        statement = delete(table).where(key.in_(select(key).where(condition).limit(batch)))
    while True:
        async with engine.begin() as connection:
            count = (await connection.execute(statement)).rowcount
        total += count
        if count < batch:
            return total
