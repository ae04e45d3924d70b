"""The parts of scale-out mode one at a time: fenced commits, Redis locks (their stamps in
tests/unit/test_session_stamps.py),
membership, leases, shared tool questions (the whole of it runs in
tests/integration/test_replicas.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from aibot.channels.base import Channel
from aibot.config import Config
from aibot.core.errors import StaleWrite
from aibot.core.messages import ReplyTarget
from aibot.ops.metrics import Metrics
from aibot.replicas.approvals import RedisApprovals
from aibot.replicas.coordinator import Coordinator
from aibot.replicas.doctor import replicas_check
from aibot.replicas.locks import RedisSessionLocks
from aibot.replicas.membership import Membership
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schema import outbox
from aibot.store.writer import GroupCommitWriter
from tests.support.databases import redis_client
from tests.support.net import free_port
from tests.support.private_servers import PrivateRedis


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    async with redis_client() as connection:
        yield connection


async def test_a_second_answer_to_a_finished_message_does_not_commit(
    sql_engine: Database,
) -> None:
    store = Repository(sql_engine, fenced=True)
    writer = GroupCommitWriter(sql_engine)
    writer.start()
    try:
        (row_id,) = await writer.submit(
            store.accept_inbox("hook", "m1", "s", "u", "hi", ReplyTarget(), 1.0)
        )
        await writer.submit(
            store.finish_inbox(row_id, "done", 2.0),
            store.enqueue_outbox(row_id, "hook", "s", ReplyTarget(), "first", 2.0),
        )
        late = (
            store.finish_inbox(row_id, "done", 3.0),
            store.enqueue_outbox(row_id, "hook", "s", ReplyTarget(), "second", 3.0),
        )
        with pytest.raises(StaleWrite):
            await writer.submit(*late)
        # Batched with a healthy unit, the stale one still fails alone.
        (other,) = await writer.submit(
            store.accept_inbox("hook", "m2", "s", "u", "yo", ReplyTarget(), 4.0)
        )
        results = await asyncio.gather(
            writer.submit(*late),
            writer.submit(
                store.finish_inbox(other, "done", 5.0),
                store.enqueue_outbox(other, "hook", "s", ReplyTarget(), "third", 5.0),
            ),
            return_exceptions=True,
        )
        assert isinstance(results[0], StaleWrite) and results[1] == [None, None]
    finally:
        await writer.stop()
    async with sql_engine.connect() as connection:
        texts = (await connection.execute(select(outbox.c.text).order_by(outbox.c.id))).all()
    assert [t for (t,) in texts] == ["first", "third"]


async def test_session_lock_excludes_renews_and_lapses(client: redis.Redis) -> None:
    a = RedisSessionLocks(client, "a", ttl=0.5)
    b = RedisSessionLocks(client, "b", ttl=0.5)
    async with a.hold("s", wait=False) as held:
        assert held
        async with b.hold("s", wait=False) as other:
            assert not other
        for _ in range(4):  # held past its ttl while renewed
            await asyncio.sleep(0.2)
            await a.renew()
        async with b.hold("s", wait=False) as other:
            assert not other
        async with b.hold("s", wait=True) as other:  # a stops renewing: the lock lapses
            assert other
    assert await client.get("aibot:session:s") is None  # b released; a's release left it


async def test_a_lock_that_lapsed_while_held_is_counted_once(client: redis.Redis) -> None:
    metrics = Metrics()
    a = RedisSessionLocks(client, "a", ttl=0.3, lapsed=metrics.locks_lapsed)
    b = RedisSessionLocks(client, "b", ttl=5.0)

    def lapsed() -> float | None:
        return metrics.registry.get_sample_value("aibot_session_locks_lapsed_total")

    try:
        async with a.hold("s", wait=False) as held:  # renewed in time: not counted
            assert held
            await asyncio.sleep(0.2)
            await a.renew()
        async with a.hold("s", wait=False) as held:
            assert held
            await asyncio.sleep(0.5)  # a stalled past its ttl and renews too late
            async with b.hold("s", wait=False) as other:
                assert other  # b may now ask the model for the same message again
                await a.renew()
                await a.renew()
        assert lapsed() == 1  # at the renewal; not again at the release
        async with a.hold("t", wait=False) as held:
            assert held
            await asyncio.sleep(0.5)  # no renewal at all: found at the release
        assert lapsed() == 2
    finally:
        await a.close()
        await b.close()


async def test_membership_knows_late_joiners_and_the_dead(client: redis.Redis) -> None:
    # A 3 s lease: each step below must finish within it even on a box at load 20 (0.5 s did not).
    a, b = Membership(client, "a", ttl=3), Membership(client, "b", ttl=3)
    await a.beat()
    await b.beat()  # after a's beat: a's cached set does not have b, Redis does
    assert await a.alive("b") and await b.alive("a")
    await asyncio.sleep(3.2)
    await a.beat()
    assert not await a.alive("b")
    assert await a.hold_lease("telegram") and not await b.hold_lease("telegram")
    await a.resign("telegram")
    assert await b.hold_lease("telegram")


async def test_doctor_says_which_mode_and_whether_redis_answers(client: redis.Redis) -> None:
    server = client.connection_pool.connection_kwargs
    redis_url = f"redis://{server['host']}:{server['port']}/{server['db']}"
    pg = "postgresql://postgres@127.0.0.1:5432/aibot"

    def config(storage: str, redis_at: str | None) -> Config:
        return Config.model_validate({"storage": {"url": storage}, "redis": {"url": redis_at}})

    await Membership(client, "a", ttl=5).beat()
    scaled = await replicas_check(config(pg, redis_url))
    assert (scaled.status, scaled.detail) == (
        "ok",
        "scale-out mode (PostgreSQL + Redis); 1 replica(s) running now",
    )
    on_mysql = await replicas_check(config("mysql://aibot:pw@127.0.0.1:3306/aibot", redis_url))
    assert on_mysql.detail.startswith("scale-out mode (MySQL/MariaDB + Redis)")
    assert (await replicas_check(config("sqlite:///x.db", redis_url))).status == "warn"
    down = await replicas_check(config(pg, f"redis://127.0.0.1:{free_port()}/0"))
    assert down.status == "fail" and "Redis unreachable" in down.detail
    assert "set redis.url" in (await replicas_check(config(pg, None))).detail


class Receiver:
    """A channel whose receiving must run once: records starts and stops."""

    name = "poller"
    exclusive = True

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running, self.starts = True, self.starts + 1

    async def stop(self) -> None:
        self.running = False


async def test_receiver_lease_fails_over_and_survives_a_redis_restart() -> None:
    async with PrivateRedis() as server:
        clients = [redis.from_url(server.url) for _ in range(2)]
        receivers = [Receiver(), Receiver()]
        metrics = [Metrics(), Metrics()]
        a, b = (
            Coordinator(client, ttl=1.0, metrics=m, me=name)
            for client, m, name in zip(clients, metrics, "ab", strict=True)
        )
        for coordinator, receiver in zip((a, b), receivers, strict=True):
            coordinator.lead([cast(Channel, receiver)])
            await coordinator.tick()
        assert [r.running for r in receivers] == [True, False]
        assert (a.role("poller"), b.role("poller")) == ("receiving", "standby")

        await server.stop()  # Redis gone: everyone keeps the role they had
        await a.tick()
        await b.tick()
        assert [r.running for r in receivers] == [True, False]
        assert metrics[0].registry.get_sample_value("aibot_coordination_up") == 0
        await server.start()  # back, empty: the receiver renews its own lease first
        await a.tick()
        await b.tick()
        assert [r.running for r in receivers] == [True, False] and receivers[0].starts == 1
        assert metrics[0].registry.get_sample_value("aibot_coordination_up") == 1

        await a.stop()  # resigns: the standby takes over on its next beat, not after the ttl
        await receivers[0].stop()
        await b.tick()
        assert receivers[1].running and b.role("poller") == "receiving"
        await b.stop()
        for client in clients:
            await client.aclose()


async def test_a_shared_question_is_settled_once_by_its_user(client: redis.Redis) -> None:
    board = RedisApprovals(client)
    await board.open("s1", "tok1", "ann", "feishu", "🔐 run calculator?", 60)
    assert await board.settle(channel="feishu", user_id="bob", approve=True, token="tok1") is None
    assert await board.settle(channel="wecom", user_id="ann", approve=True, token="tok1") is None
    assert await board.decision("tok1") is None
    settled = await board.settle(channel="feishu", user_id="ann", approve=False, token="tok1")
    assert settled == "🔐 run calculator?"
    again = await board.settle(channel="feishu", user_id="ann", approve=True, session_key="s1")
    assert again is None  # the first answer counts
    assert await board.decision("tok1") is False
    await board.close("s1", "tok1")
    assert await board.decision("tok1") is None
    late = await board.settle(channel="feishu", user_id="ann", approve=True, session_key="s1")
    assert late is None
