"""The store on a real SQLite file and on the local PostgreSQL: migrations, dedupe, group commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aibot.core.messages import ReplyTarget, TurnRecord
from aibot.store.database import Database
from aibot.store.engine import create_engine, migrate
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter, Write
from tests.support.databases import SERVER_DATABASES, writer_for


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
        await migrate(engine)
        yield engine
        await engine.dispose()
        return
    async with SERVER_DATABASES[request.param]() as url:
        engine = create_engine(url)
        await migrate(engine)
        yield engine
        await engine.dispose()


async def test_migrations_are_idempotent(engine: Database) -> None:
    await migrate(engine)  # a second start (or a second replica) finds nothing to do
    await Repository(engine).ping()


async def test_inbox_dedupes_on_channel_and_message_id(engine: Database) -> None:
    repo, writer = Repository(engine), writer_for(engine)
    writer.start()

    def accept(channel: str, message_id: str) -> Write:
        target = ReplyTarget(platform={"chat": 1})
        return repo.accept_inbox(channel, message_id, "s", "u", "hi", target, 1.0)

    results = await asyncio.gather(
        *(writer.submit(accept("tg", "m1")) for _ in range(5)),
        writer.submit(accept("feishu", "m1")),
    )
    ids = [r[0] for r in results]
    assert sum(1 for i in ids if i is not None) == 2  # one per channel; re-deliveries dropped
    pending = await repo.pending_inbox(10, set())
    assert {p.channel for p in pending} == {"tg", "feishu"}
    assert pending[0].target == ReplyTarget(platform={"chat": 1})
    paused_tg = await repo.pending_inbox(1, set(), frozenset({"tg"}))  # filtered in SQL
    assert [p.channel for p in paused_tg] == ["feishu"]
    await writer.stop()


async def test_group_commit_isolates_a_failing_unit(engine: Database) -> None:
    repo, writer = Repository(engine), writer_for(engine)
    writer.start()

    broken = Write(text("INSERT INTO no_such_table VALUES (1)"), {})
    good = [
        writer.submit_nowait(
            repo.save_conversation(f"s{i}", "api", "u", 1.0),
            *repo.add_turns(f"s{i}", [TurnRecord("user", "x", 2.0)]),
        )
        for i in range(20)
    ]
    bad = writer.submit_nowait(*repo.add_turns("bad", [TurnRecord("user", "y", 2.0)]), broken)
    await asyncio.gather(*good)
    with pytest.raises(DBAPIError, match="no_such_table"):
        await bad
    await writer.stop()
    assert len(await repo.recent_turns("s7", 0.0, 10)) == 1
    assert await repo.recent_turns("bad", 0.0, 10) == []  # all-or-nothing per unit


async def test_a_unit_submitted_in_the_next_loop_iteration_shares_the_batch(
    engine: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one unit queued the writer lets the loop run once more before committing: the
    messages answered together are committed together, even where a commit is one round
    trip (PostgreSQL's one-statement batches), instead of each alone."""
    repo, writer = Repository(engine), writer_for(engine)
    batches: list[int] = []
    commit = GroupCommitWriter._commit

    async def counted(self: GroupCommitWriter, batch: list[Any]) -> None:
        batches.append(len(batch))
        await commit(self, batch)

    monkeypatch.setattr(GroupCommitWriter, "_commit", counted)
    writer.start()
    await asyncio.sleep(0)  # the writer waits for its first unit
    futures = [writer.submit_nowait(repo.save_conversation("a", "api", "u", 1.0))]
    asyncio.get_running_loop().call_soon(
        lambda: futures.append(writer.submit_nowait(repo.save_conversation("b", "api", "u", 1.0)))
    )
    await asyncio.sleep(0)
    await asyncio.gather(*futures)
    await writer.stop()
    assert batches == [2]


async def test_recent_turns_respects_limit_and_context_start(engine: Database) -> None:
    repo, writer = Repository(engine), writer_for(engine)
    writer.start()
    records = [
        TurnRecord("user" if i % 2 == 0 else "assistant", f"t{i}", float(i + 1)) for i in range(10)
    ]
    await writer.submit(repo.save_conversation("s", "api", "u", 1.0), *repo.add_turns("s", records))
    await writer.submit(repo.save_conversation("s", "api", "u", 2.0, context_from=4.0, model="glm"))
    await writer.stop()
    row, _ = await repo.load_session("s", 1)
    assert row is not None and row.model == "glm" and row.context_from == 4.0
    turns = await repo.recent_turns("s", row.context_from, 4)
    assert [t.content for t in turns] == ["t6", "t7", "t8", "t9"]
    assert (await repo.recent_turns("s", 4.0, 100))[0].content == "t4"


async def test_fresh_create_matches_the_migrations(engine: Database) -> None:
    """A first start creates the schema directly; it must equal what Alembic builds."""
    from sqlalchemy import inspect

    from aibot.store.engine import _upgrade
    from aibot.store.migrations import head_revision

    def describe(connection: Any) -> dict[str, Any]:
        inspector = inspect(connection)
        return {
            table: (
                sorted(
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ),
                sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            )
            for table in sorted(inspector.get_table_names())
        }

    async with engine.connect() as connection:
        created = await connection.run_sync(describe)
        version = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
    assert version == head_revision()
    async with engine.begin() as connection:
        for table in created:  # every table, alembic_version included
            await connection.execute(text(f"DROP TABLE {table}"))
        await connection.run_sync(_upgrade)  # the migration path, as an existing install takes
        migrated = await connection.run_sync(describe)
    assert created == migrated


async def test_text_keys_and_times_survive_exactly(engine: Database) -> None:
    """Chinese and emoji, a 300 KB answer, keys that differ only in case or a trailing space,
    and microsecond times come back as written on every back end (MySQL's defaults would lose
    emoji, cut TEXT at 64 KiB, merge such keys and round FLOAT times to minutes)."""
    repo, writer = Repository(engine), writer_for(engine)
    writer.start()
    accepted = await asyncio.gather(
        *(
            writer.submit(repo.accept_inbox("hook", mid, "s", "u", "hi", ReplyTarget(), 1.0))
            for mid in ("m", "M", "m ")
        )
    )
    assert all(row_id is not None for (row_id,) in accepted)
    answer = "长回答🌏" * 60_000
    at = 1_765_000_000.123456
    await writer.submit(
        repo.save_conversation("会话 🙂", "api", "用户", at),
        *repo.add_turns(
            "会话 🙂", [TurnRecord("user", "你好 👋🏽", at), TurnRecord("assistant", answer, at)]
        ),
    )
    await writer.stop()
    turns = await repo.recent_turns("会话 🙂", 0.0, 10)
    assert [t.content for t in turns] == ["你好 👋🏽", answer]
    assert turns[0].created_at == at
    assert await repo.recent_turns("会话 🙃", 0.0, 10) == []


def test_migrations_form_one_chain_ending_at_the_head() -> None:
    """Branches that each add a migration must re-chain on rebase: one head, the newest file."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from aibot.store.migrations import MIGRATIONS_DIR, head_revision

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [head_revision()]
