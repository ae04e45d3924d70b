"""The scale-out inbox drain (issue 20): a replica whose cached conversation is not current reads
the session's pending rows and the conversation together — on PostgreSQL in one statement on the
session read's own connections — and that read serves only the message answered right after it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from sqlalchemy import event

from aibot.core.coordination import Appended
from aibot.core.messages import Inbound, TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService
from aibot.core.sessions import SessionMemory
from aibot.core.shared_inbox import SharedInbox
from aibot.ops.metrics import Metrics
from aibot.store.crypto import Keyring
from aibot.store.database import Database
from aibot.store.pg_read import PgConnection
from aibot.store.repository import Repository
from aibot.store.session_read import session_read_for
from aibot.store.writer import GroupCommitWriter
from tests.support.clock import FakeClock
from tests.support.databases import url_of, writer_for
from tests.support.inbox_parts import AlwaysHeld, Lanes, NoPauses, said


@pytest.fixture
async def parts(sql_engine: Database) -> AsyncIterator[tuple[Repository, GroupCommitWriter]]:
    """The repository as the gateway builds it (its own session read), sealed, and a writer."""
    read = session_read_for(url_of(sql_engine), sql_engine, 4)
    repo = Repository(sql_engine, cipher=Keyring(os.urandom(32)), session_read=read)
    writer = writer_for(sql_engine)
    writer.start()
    try:
        yield repo, writer
    finally:
        await writer.stop()
        await repo.close()


class Stamps:
    """No stamp ever vouches for the cache: every message's conversation is read."""

    def seen(self, session_key: str) -> float | None:
        return None

    def appended(self, session_key: str) -> Appended | None:
        return None

    def leave(
        self, session_key: str, stamp: float | None, appended: Appended | None = None
    ) -> None:
        return None

    async def drop_chat(self, chat_key: str) -> None:
        return None


class Remembering:
    """The ChatService, reduced to reading the conversation (unless the message is `/skip`),
    adding the message as a turn and committing it with the completion."""

    max_message_chars = 4000

    def __init__(self, repo: Repository, writer: GroupCommitWriter, memory: SessionMemory):
        self.dispatcher = Lanes()
        self.history: list[list[str]] = []
        self._repo, self._writer, self._memory = repo, writer, memory

    async def process(
        self, inbound: Inbound, on_delta: Any, *, extra_writes: Any, on_status: Any
    ) -> None:
        ctx = TurnContext(inbound, 0.0)
        ctx.reply = "answer"
        turn = [TurnRecord("user", inbound.text, inbound.received_at)]
        if inbound.text != "/skip":
            state = await self._memory.get(inbound.session_key)
            self.history.append([t["content"] for t in state.turns])
        repo = self._repo
        await self._writer.submit(
            repo.save_conversation("s", "telegram", "7", inbound.received_at),
            *repo.add_turns("s", turn),
            *extra_writes(ctx),
        )


async def test_the_drain_reads_what_the_two_reads_read(
    parts: tuple[Repository, GroupCommitWriter],
) -> None:
    repo, writer = parts
    clock = FakeClock(100.0)
    assert await repo.pending_with_session("s", 10, 6) == ([], (None, []))
    await writer.submit(repo.save_conversation("s", "telegram", "7", 1.0))
    assert (await repo.pending_with_session("s", 10, 6))[1] == await repo.load_session("s", 6)
    turns = [TurnRecord("user" if i % 2 else "assistant", f"回合 {i}", 2.0 + i) for i in range(9)]
    await writer.submit(
        repo.save_conversation("s", "telegram", "7", 20.0, model="m"), *repo.add_turns("s", turns)
    )
    for number, batch in enumerate([None, "album", "album", None]):
        inbound = said(clock, number, batch, f"第 {number} 条")
        await writer.submit(
            repo.accept_inbox(
                inbound.channel, f"m{number}", "s", inbound.user_id, inbound.text,
                inbound.target, clock(), principal="telegram:7", attachments=inbound.attachments,
                batch=batch,
            ),
            repo.accept_inbox("telegram", f"t{number}", "t", "8", "other", inbound.target, 1.0),
        )  # fmt: skip
        clock.advance(1.0)
    await writer.submit(
        repo.finish_inbox((await repo.pending_for_session("s", 1))[0].id, "done", 1)
    )
    for limit in (1, 2, 10):
        for keep in (None, 0, 2, 6, 20):
            rows, loaded = await repo.pending_with_session("s", limit, keep)
            assert rows == await repo.pending_for_session("s", limit)
            assert loaded == (None if keep is None else await repo.load_session("s", keep))
    rows, loaded = await repo.pending_with_session("s", 10, 4)
    assert [row.text for row in rows] == ["第 1 条", "第 2 条", "第 3 条"]
    assert loaded is not None and [t.content for t in loaded[1]] == [
        f"回合 {i}" for i in (5, 6, 7, 8)
    ]


@pytest.mark.parametrize("first", ["one", "/skip"])
async def test_a_drain_reads_the_conversation_with_its_rows_for_the_first_message_only(
    parts: tuple[Repository, GroupCommitWriter],
    sql_engine: Database,
    monkeypatch: Any,
    first: str,
) -> None:
    """Two messages pending and no stamp: the drain's first query brings the conversation
    too (on PostgreSQL one statement), and the first message answers from it; a first
    message that does not read it (`/skip`) leaves it unused, and the second message reads
    the store again and sees that message's turn."""
    repo, writer = parts
    memory = SessionMemory(repo, max_turns=5, cache_size=10, stamps=Stamps())
    service = Remembering(repo, writer, memory)
    clock = FakeClock(100.0)
    inbox = SharedInbox(
        repo, writer, cast(ChatService, service), Metrics(), lambda: None, clock,
        locks=AlwaysHeld(), flags=NoPauses(), memory=memory,
    )  # fmt: skip
    await writer.submit(repo.save_conversation("s", "telegram", "7", 1.0))
    await writer.submit(*repo.add_turns("s", [TurnRecord("user", "earlier", 1.0)]))
    reads = count_reads(sql_engine, monkeypatch)
    service.dispatcher.busy = True
    for number, text in enumerate([first, "two"]):
        assert await inbox.accept(said(clock, number, None, text))
        clock.advance(1.0)
    reads.clear()
    await service.dispatcher.queued[0]()
    if sql_engine.dialect.name == "postgresql":
        # Nothing through the engine; "two" reads again since no stamp vouches for the cache.
        assert reads == ["drain", "read"]
    seen = [["earlier", first]] if first == "/skip" else [["earlier"], ["earlier", first]]
    assert service.history == seen
    assert await repo.pending_inbox(10, set()) == []


def count_reads(engine: Database, monkeypatch: Any) -> list[str]:
    """Every SELECT sent through the engine ("engine") or on the raw read's connections (what
    they read: "drain" or "read")."""
    reads: list[str] = []

    def engine_read(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            reads.append("engine")

    event.listen(engine.sync_engine, "before_cursor_execute", engine_read)
    fetch = PgConnection.fetch

    async def counted(self: PgConnection, sql: str, *args: Any) -> list[Any]:
        reads.append("drain" if "inbox" in sql else "read")
        return await fetch(self, sql, *args)

    monkeypatch.setattr(PgConnection, "fetch", counted)
    return reads
