"""Pooled PostgreSQL connections are pinged only after resting (store/liveness.py): none for
a connection in steady use, a fresh one for a connection the server dropped while it rested,
and a new connection right after the one failure a busy, dropped connection causes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.store.engine import create_engine
from aibot.store.liveness import ping_when_idle
from tests.support.databases import postgres_database, server_engine


@pytest.fixture
async def engines() -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """The engine under test, and another that kills its connections from outside."""
    async with postgres_database() as url:
        engine, killer = server_engine(create_engine(url)), server_engine(create_engine(url))
        yield engine, killer
        await engine.dispose()
        await killer.dispose()


def count_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dialect = engine.sync_engine.dialect
    pings = [0]
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings[0] += 1
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def kill(killer: AsyncEngine, pid: int) -> None:
    async with killer.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await connection.commit()


async def test_a_connection_in_steady_use_is_not_pinged(
    engines: tuple[AsyncEngine, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = engines
    pings = count_pings(engine, monkeypatch)
    for _ in range(50):
        await backend_pid(engine)
    assert pings[0] == 0  # pool_pre_ping sent 50


async def test_a_connection_dropped_while_resting_is_replaced_unseen(
    engines: tuple[AsyncEngine, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, killer = engines
    ping_when_idle(engine, idle=0.2)  # a second listener with a short rest, for the test
    pings = count_pings(engine, monkeypatch)
    pid = await backend_pid(engine)
    await kill(killer, pid)
    await asyncio.sleep(0.3)
    for _ in range(3):
        assert await backend_pid(engine) != pid  # answered, never by the dead one
    assert pings[0] >= 1


async def test_a_busy_connection_dropped_fails_once_then_reconnects(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    engine, killer = engines
    pid = await backend_pid(engine)
    await kill(killer, pid)  # the pool now holds a dead connection it used a moment ago
    results: list[str] = []
    for _ in range(3):
        try:
            await backend_pid(engine)
            results.append("ok")
        except DBAPIError:
            results.append("failed")
    assert results[-1] == "ok" and results.count("failed") <= 1
