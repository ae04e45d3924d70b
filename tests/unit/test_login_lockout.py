"""The console's login lockout on every store: counted before the password is checked, so no
number of parallel guesses, on one replica or several, gets more than N passwords checked."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from aibot.admin.auth import AdminAuth, LoginRefused
from aibot.admin.lockout import Attempt, Lockout
from aibot.admin.roles import Role
from aibot.admin.sessions import Sessions
from aibot.admin.users import AdminUsers
from aibot.store.audit import AuditLog
from aibot.store.database import Database
from aibot.store.schema import login_failures
from tests.support.clock import FakeClock

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(sql_engine: Database) -> Database:
    return sql_engine


async def test_lockout_after_n_failures_then_time_boxed(engine: Database) -> None:
    clock = FakeClock()
    lockout = Lockout(engine, 3, 600, clock)
    for _ in range(3):
        assert isinstance(await lockout.begin("user:a", "ip:1"), Attempt)  # each one failed
    assert await lockout.begin("user:a") == pytest.approx(600)
    assert await lockout.begin("user:b", "ip:1") == pytest.approx(600)  # same IP
    assert await lockout.begin("user:a", "ip:2") == pytest.approx(600)  # same user
    assert isinstance(await lockout.begin("user:b", "ip:2"), Attempt)
    clock.now += 599
    assert await lockout.begin("user:a") == pytest.approx(1)  # refusals are not counted
    clock.now += 1
    assert isinstance(await lockout.begin("user:a", "ip:1"), Attempt)


async def test_lockout_is_shared_through_the_store(engine: Database) -> None:
    clock = FakeClock()
    replica_a, replica_b = (Lockout(engine, 2, 60, clock) for _ in range(2))
    assert isinstance(await replica_a.begin("user:a", "ip:1"), Attempt)
    assert isinstance(await replica_b.begin("user:a", "ip:2"), Attempt)
    assert await replica_a.begin("user:a") == pytest.approx(60)
    assert isinstance(await replica_b.begin("ip:1"), Attempt)


async def test_success_takes_the_attempt_back_and_clears_only_the_user(
    engine: Database,
) -> None:
    clock = FakeClock()
    lockout = Lockout(engine, 2, 60, clock)
    assert isinstance(await lockout.begin("user:a", "ip:1"), Attempt)  # failed
    right = await lockout.begin("user:a", "ip:1")
    assert isinstance(right, Attempt)
    await lockout.succeeded(right, "user:a")
    assert isinstance(await lockout.begin("user:a", "ip:1"), Attempt)  # failed
    assert isinstance(await lockout.begin("user:a", "ip:2"), Attempt)
    assert await lockout.begin("ip:1") == pytest.approx(60)
    clock.now += 61
    assert isinstance(await lockout.begin("user:" + "x" * 500), Attempt)  # cut, not an error
    async with engine.connect() as connection:
        rows = (await connection.execute(select(login_failures.c.key))).scalars().all()
    assert rows == ["user:" + "x" * 195]


async def _guesses(auths: list[AdminAuth], count: int) -> list[object]:
    """`count` parallel logins for alice spread over `auths`, the right password last."""
    passwords = [f"wrong guess {i:04d}" for i in range(count - 1)] + [PASSWORD]
    return await asyncio.gather(
        *(
            auths[i % len(auths)].login("alice", password, "", f"10.0.{i // 250}.{i % 250}")
            for i, password in enumerate(passwords)
        )
    )


def _auth(engine: Database, attempts: int) -> AdminAuth:
    return AdminAuth(
        AdminUsers(engine),
        Sessions(engine, 60),
        AuditLog(engine),
        Lockout(engine, attempts, 600),
        secure_cookies=False,
    )


@pytest.mark.timeout(300)
async def test_parallel_guesses_cannot_outrun_the_lockout(engine: Database) -> None:
    await AdminUsers(engine).create("alice", Role.ADMIN, PASSWORD)
    results = await _guesses([_auth(engine, 5)], 150)
    assert not any(isinstance(r, tuple) for r in results), "the last, right password signed in"
    refused = [r for r in results if isinstance(r, LoginRefused)]
    assert len(refused) == 150
    assert sum(r.status == 401 for r in refused) == 5  # five passwords checked, no more


@pytest.mark.timeout(300)
async def test_parallel_guesses_across_replicas_cannot_outrun_the_lockout(
    engine: Database,
) -> None:
    await AdminUsers(engine).create("alice", Role.ADMIN, PASSWORD)
    replicas = [_auth(engine, 5) for _ in range(3)]  # three processes, one store
    results = await _guesses(replicas, 150)
    assert not any(isinstance(r, tuple) for r in results), "the last, right password signed in"
    checked = [r for r in results if isinstance(r, LoginRefused) and r.status == 401]
    assert len(checked) <= 5
