"""A group commit of plain inserts is one statement on PostgreSQL (store/pg_bulk.py): one round
trip where a transaction took four, meaning what the transaction meant — every row in its
order, NULLs and Chinese as sent, a value too long for its column refused rather than cut, two
rows for one conversation applied in turn, a unique violation still the store's error. A batch
of one statement runs alone too (store/pg_write.py); any other keeps its transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.core.errors import StaleWrite
from aibot.core.messages import ReplyTarget, TurnRecord
from aibot.store.pg_bulk import BulkUpdate, bulk_insert, bulk_part, bulk_statement
from aibot.store.pg_write import PgWrites
from aibot.store.repository import Repository
from aibot.store.schema import conversations, inbox, outbox, turns
from aibot.store.writer import GroupCommitWriter, Write
from tests.support.databases import migrated_store, server_engine, writer_for


class CountedConnection:
    """The writer's asyncpg connection, counting the calls that each cost a round trip."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._connection, name)
        if name in ("execute", "executemany", "fetch", "transaction"):
            self.calls[name] += 1
        return attribute


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store("postgresql", tmp_path) as engine:
        yield server_engine(engine)


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[GroupCommitWriter]:
    writer = writer_for(engine)
    writer.start()
    await writer.submit(Repository(engine).save_conversation("warm", "api", "u", 0.0))
    yield writer
    await writer.stop()


@pytest.fixture
def counted(writer: GroupCommitWriter) -> CountedConnection:
    raw = writer._raw
    assert isinstance(raw, PgWrites) and raw._connection is not None
    counted = CountedConnection(raw._connection)
    raw._connection = counted
    return counted


async def turns_of(engine: AsyncEngine, session_key: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(turns.c.role, turns.c.content, turns.c.reasoning, turns.c.created_at)
            .where(turns.c.session_key == session_key)
            .order_by(turns.c.id)
        )
        return [tuple(row) for row in rows]


async def test_a_messages_writes_are_one_statement_with_no_begin_or_commit(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    repo = Repository(engine)
    said = [
        TurnRecord("user", "你好，帮我看看这个报错", 1.0),
        TurnRecord("assistant", "好的", 1.5, reasoning="先看日志"),
    ]
    await writer.submit(repo.save_conversation("s", "feishu", "u", 1.5), *repo.add_turns("s", said))
    assert counted.calls == Counter(execute=1)
    assert await turns_of(engine, "s") == [
        ("user", "你好，帮我看看这个报错", None, 1.0),
        ("assistant", "好的", "先看日志", 1.5),
    ]
    await writer.submit(repo.save_conversation("s", "feishu", "u", 2.0))  # the upsert's update
    row, _ = await repo.load_session("s", 10)
    assert row is not None and row.updated_at == 2.0


async def test_a_batch_of_many_messages_keeps_every_row_in_its_order(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    repo = Repository(engine)
    futures = [
        writer.submit_nowait(
            repo.save_conversation(f"c{n}", "api", "u", float(n)),
            *repo.add_turns(
                f"c{n}",
                [TurnRecord("user", f"问题 {n}", float(n)), TurnRecord("assistant", f"答 {n}", n)],
            ),
        )
        for n in range(40)
    ]
    for future in futures:
        await future
    assert counted.calls == Counter(execute=1)  # 40 messages, one batch, one statement
    for n in (0, 17, 39):
        assert [content for _, content, _, _ in await turns_of(engine, f"c{n}")] == [
            f"问题 {n}",
            f"答 {n}",
        ]


async def test_two_rows_for_one_conversation_in_a_batch_apply_in_turn(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    """One statement refuses two rows for one conflict key; the batch then runs as it did
    before the one-statement form (here one `executemany`, atomic alone), which applies them
    in order."""
    repo = Repository(engine)
    first = writer.submit_nowait(repo.save_conversation("same", "api", "u", 2.0))
    second = writer.submit_nowait(repo.save_conversation("same", "api", "u", 3.0))
    assert await first == [None] and await second == [None]
    row, _ = await repo.load_session("same", 2)
    assert row is not None and row.updated_at == 3.0
    assert counted.calls == Counter(execute=1, executemany=1)


@pytest.mark.parametrize(
    ("field", "value"), [("session_key", "k" * 256), ("role", "assistant-" * 2)]
)
async def test_a_value_longer_than_its_column_is_refused_not_cut(
    engine: AsyncEngine,
    writer: GroupCommitWriter,
    counted: CountedConnection,
    field: str,
    value: str,
) -> None:
    """The arrays take SQLAlchemy's own casts (`::VARCHAR[]`), never the column's type:
    `::VARCHAR(255)[]` would cut the value where an insert refuses it."""
    repo = Repository(engine)
    [write] = repo.add_turns("long", [TurnRecord("user", "hi", 1.0)])
    with pytest.raises(DBAPIError, match="too long"):
        await writer.submit(Write(write.statement, {**write.params, field: value}))
    assert counted.calls["execute"] >= 1
    async with engine.connect() as connection:
        assert (await connection.execute(select(turns.c.id))).all() == []


async def test_a_unique_violation_in_one_statement_is_still_integrity_error(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    plain = Write(conversations.insert(), repo_row("dup"))
    await writer.submit(plain)
    with pytest.raises(IntegrityError):
        await writer.submit(plain)
    assert counted.calls == Counter(execute=2)


async def test_a_batch_of_one_statement_runs_alone(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    """A statement alone is atomic: no `BEGIN` and `COMMIT` around it. A fenced write that
    finds its row no longer pending still fails, having changed nothing."""
    repo, fenced = Repository(engine), Repository(engine, fenced=True)
    target = ReplyTarget(platform={"chat": 1})
    [inbox_id] = await writer.submit(repo.accept_inbox("tg", "m1", "s", "u", "hi", target, 1.0))
    assert isinstance(inbox_id, int)
    await writer.submit(fenced.finish_inbox(inbox_id, "done", 2.0))
    with pytest.raises(StaleWrite):
        await writer.submit(fenced.finish_inbox(inbox_id, "failed", 3.0))
    assert counted.calls == Counter(fetch=1, execute=2)
    async with engine.connect() as connection:
        status = (await connection.execute(select(inbox.c.status))).scalar_one()
    assert status == "done"


async def test_a_returning_write_among_others_keeps_the_transaction(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    repo = Repository(engine)
    target = ReplyTarget(platform={"chat": 1})
    [inbox_id, _] = await writer.submit(
        repo.accept_inbox("tg", "m2", "s", "u", "hi", target, 1.0),
        repo.save_conversation("s", "telegram", "u", 1.0),
    )
    assert isinstance(inbox_id, int)
    assert counted.calls["transaction"] == 1


async def test_a_platform_messages_answer_and_its_inbox_row_done_are_one_statement(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    """The unit a webhook's message commits once answered: its inbox row marked done (one
    row's update), its conversation, its turns and its reply in the outbox."""
    repo = Repository(engine)
    target = ReplyTarget(platform={"chat": 1})
    [row_id] = await writer.submit(repo.accept_inbox("tg", "m1", "s", "u", "你好", target, 1.0))
    said = [TurnRecord("user", "你好", 1.0), TurnRecord("assistant", "你好！", 1.5)]
    await writer.submit(
        repo.finish_inbox(row_id, "done", 2.0),
        repo.save_conversation("s", "telegram", "u", 1.5),
        *repo.add_turns("s", said),
        repo.enqueue_outbox(row_id, "tg", "s", target, "你好！", 2.0),
    )
    assert counted.calls == Counter(fetch=1, execute=1)
    async with engine.connect() as connection:
        row = (await connection.execute(select(inbox.c.status, inbox.c.attempts))).one()
        reply = (await connection.execute(select(outbox.c.text, outbox.c.inbox_id))).one()
    assert tuple(row) == ("done", 1) and tuple(reply) == ("你好！", row_id)
    assert [content for _, content, _, _ in await turns_of(engine, "s")] == ["你好", "你好！"]


async def test_an_update_of_two_rows_stays_one_executemany(
    engine: AsyncEngine, writer: GroupCommitWriter, counted: CountedConnection
) -> None:
    repo = Repository(engine)
    target = ReplyTarget(platform={"chat": 1})
    ids = [
        (await writer.submit(repo.accept_inbox("tg", f"m{n}", "s", "u", "hi", target, 1.0)))[0]
        for n in range(2)
    ]
    done = [writer.submit_nowait(repo.finish_inbox(row_id, "done", 2.0)) for row_id in ids]
    for future in done:
        await future
    assert counted.calls == Counter(fetch=2, executemany=1)
    async with engine.connect() as connection:
        statuses = (await connection.execute(select(inbox.c.status))).scalars().all()
    assert statuses == ["done", "done"]


def repo_row(session_key: str) -> dict[str, Any]:
    return {
        "session_key": session_key,
        "channel": "api",
        "user_id": "u",
        "model": None,
        "context_from": 0.0,
        "created_at": 1.0,
        "updated_at": 1.0,
    }


def compiled(statement: Any) -> Any:
    dialect = pg_asyncpg.dialect()  # type: ignore[no-untyped-call]
    return statement.compile(dialect=dialect, column_keys=list(repo_row("k")))


def test_only_a_plain_insert_binding_nothing_after_its_row_has_a_bulk_form() -> None:
    upsert = pg_insert(conversations)
    excluded = upsert.on_conflict_do_update(
        index_elements=["session_key"], set_={"updated_at": upsert.excluded.updated_at}
    )
    bulk = bulk_insert(compiled(excluded))
    assert bulk is not None and bulk.sql(1).startswith("INSERT INTO conversations (session_key,")
    assert "unnest($1::VARCHAR[], $2::VARCHAR[]" in bulk.sql(1)
    assert bulk.sql(1).endswith("DO UPDATE SET updated_at = excluded.updated_at")
    bound = upsert.on_conflict_do_update(index_elements=["session_key"], set_={"model": "m"})
    assert bulk_insert(compiled(bound)) is None  # the tail binds a value
    returning = bulk_insert(compiled(conversations.insert().returning(conversations.c.model)))
    assert returning is not None and returning.sql(1).endswith(" RETURNING conversations.model")
    assert bulk_insert(compiled(update(conversations).values(model="m"))) is None


def test_an_update_keeps_its_sql_with_its_parameters_renumbered() -> None:
    statement = (
        update(conversations)
        .where(conversations.c.session_key == bindparam("key"))
        .values(model=bindparam("model"))
    )
    part = bulk_part(
        statement.compile(dialect=pg_asyncpg.dialect(), column_keys=["key", "model"])  # type: ignore[no-untyped-call]
    )
    assert isinstance(part, BulkUpdate) and part.width == 2
    assert part.sql(8) == (
        "UPDATE conversations SET model=$8::VARCHAR WHERE conversations.session_key = $9::VARCHAR"
    )


def test_two_inserts_into_one_table_are_not_one_statement() -> None:
    bulk = bulk_insert(compiled(conversations.insert()))
    assert bulk is not None
    assert bulk_statement([bulk, bulk]) is None
    assert bulk_statement([bulk]) == bulk.sql(1)
