"""The background reads on connections of their own: the outbox poll, the inbox rescan and its
backlog (store/queues.py `QueuePolls`), the scheduler's tick (`ScheduleReads`) and the API keys'
refresh (`KeyReads`) — asyncpg's own protocol on PostgreSQL (store/pg_read.py), plain sqlite3
on a SQLite file (store/sqlite_read.py): the same rows as the engine's queries, sealed values
opened, and nothing through the engine (on a SQLite file a gateway starts without SQLAlchemy,
and these reads are its start's)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from aibot.admin.keys import ApiKeyStore
from aibot.core.messages import ReplyTarget
from aibot.store import api_keys
from aibot.store.api_keys import KeyReads
from aibot.store.crypto import Keyring
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schedules import JobState, ScheduleReads, ScheduleRows
from aibot.store.session_read import session_read_for
from tests.support.databases import migrated_store, url_of, writer_for


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_store(request.param, tmp_path) as engine:
        yield engine


def statements_sent(engine: Database) -> list[str]:
    """Every statement sent through `engine` from now on."""
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return sent


async def test_the_polls_read_what_the_engine_reads_and_nothing_through_it(
    engine: Database,
) -> None:
    ring = Keyring(os.urandom(32))
    fast = Repository(engine, cipher=ring, session_read=session_read_for(url_of(engine), engine, 4))
    slow = Repository(engine, cipher=ring)
    writer = writer_for(engine)
    writer.start()
    target = ReplyTarget(chat_id=7, request_id="r")
    for n, channel in enumerate(("hook", "telegram", "hook", "feishu")):
        (row_id,) = await writer.submit(
            slow.accept_inbox(channel, f"m{n}", f"s{n}", "u", f"问 {n}", target, float(n))
        )
        await writer.submit(slow.enqueue_outbox(row_id, channel, f"s{n}", target, f"答 {n}", 9.0))
    await writer.stop()
    through_engine = statements_sent(engine)
    try:
        for limit, skip, paused in ((10, set(), frozenset()), (2, {1}, frozenset({"telegram"}))):
            inbox = await fast.pending_inbox(limit, skip, paused)
            assert inbox == await slow.pending_inbox(limit, skip, paused)
        opened = [r.text for r in await fast.pending_inbox(10, set())]
        assert opened == [f"问 {n}" for n in range(4)]
        for limit in (1, 10):
            assert await fast.pending_outbox(limit) == await slow.pending_outbox(limit)
        assert (await fast.pending_outbox(10))[3].target == target
        assert await fast.inbox_backlog() == await slow.inbox_backlog() == (4, 0.0)
        through_engine.clear()
        await fast.pending_inbox(10, set(), frozenset({"hook"}))
        await fast.pending_outbox(10)
        await fast.inbox_backlog()
        assert through_engine == []
    finally:
        await fast.close()


async def test_the_scheduler_tick_reads_what_the_engine_reads_and_nothing_through_it(
    engine: Database,
) -> None:
    reads = session_read_for(url_of(engine), engine, 2)
    assert isinstance(reads, ScheduleReads)
    ring = Keyring(os.urandom(32))
    fast, slow = ScheduleRows(engine, cipher=ring, reads=reads), ScheduleRows(engine, cipher=ring)
    writer = writer_for(engine)
    writer.start()
    target = ReplyTarget(chat_id=7, request_id="r")
    for n in range(4):
        await writer.submit(
            slow.add(
                kind="reminder", channel="hook", session_key=f"s{n}", user_id="u",
                target=target, text=f"提醒 {n}", due_at=10.0 + n, now=1.0,
            )
        )  # fmt: skip
    await writer.submit(
        slow.add(
            kind="job", job="daily", channel="telegram", session_key="schedule:daily",
            target=target, text="早安", due_at=11.5, now=1.0, status="missed",
        )
    )  # fmt: skip
    await writer.submit(slow.claim(1, "other", 12.0, 1.0))  # running until 13.0
    await writer.submit(slow.init_job("daily", 20.0, 1.0), slow.init_job("weekly", 30.0, 1.0))
    await writer.submit(slow.set_paused("weekly", True, 2.0))
    await writer.stop()
    through_engine = statements_sent(engine)
    try:
        for now, limit in ((9.0, 50), (12.5, 50), (13.5, 50), (13.5, 2)):
            assert await fast.due(now, limit) == await slow.due(now, limit)
        assert [t.text for t in await fast.due(12.5)] == ["提醒 1", "提醒 2"]
        assert [t.text for t in await fast.due(13.5)] == [f"提醒 {n}" for n in range(4)]
        assert await fast.job_states() == await slow.job_states()
        assert await fast.job_states() == {
            "daily": JobState(20.0, False),
            "weekly": JobState(30.0, True),
        }
        through_engine.clear()
        await fast.due(13.5)
        await fast.job_states()
        assert through_engine == []
    finally:
        await reads.close()


async def test_the_api_keys_refresh_reads_what_the_engine_reads_and_nothing_through_it(
    engine: Database,
) -> None:
    reads = session_read_for(url_of(engine), engine, 2)
    assert isinstance(reads, KeyReads)
    for n, expires_at in enumerate((None, 50.0, None)):
        new = api_keys.NewKey(f"{n:064x}", f"ak_{n}", "admin")
        await api_keys.add(engine, new, f"key {n}", "rest", 1.0, expires_at)
    assert await api_keys.revoke(engine, 3, 2.0)
    through_engine = statements_sent(engine)
    try:
        fast = sorted(await ApiKeyStore(engine, reads).usable(), key=lambda k: k.principal)
        assert fast == sorted(await ApiKeyStore(engine).usable(), key=lambda k: k.principal)
        assert [(k.principal, k.expires_at) for k in fast] == [
            ("apikey-1", None),
            ("apikey-2", 50.0),
        ]
        through_engine.clear()
        await ApiKeyStore(engine, reads).usable()
        assert through_engine == []
    finally:
        await reads.close()
