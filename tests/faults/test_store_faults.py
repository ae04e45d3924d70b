"""PostgreSQL and Redis restarted under load, the gateway left running.

A private PostgreSQL cluster and a private Redis (tests/support/private_servers.py) back a real
gateway (shared mode) while a load of webhook messages and API chats runs; one store is stopped with
clients connected, kept down a moment and started again. The gateway must come back by itself:
what it acknowledged before, during or after is answered exactly once (a platform re-posts
what was not acknowledged, as platforms do), callers during the outage get a prompt JSON error
rather than a hang or a dropped connection, `/readyz` tells operators the database is down and
then up, and new messages succeed within seconds of the store's return.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from tests.fakes.callback_receiver import CallbackReceiver
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.gateway_calls import DROPPED, TIMEOUT, Answer, api_chat, post_webhook, readyz
from tests.support.private_servers import PrivatePostgres, PrivateRedis
from tests.support.waiting import eventually, wait_until

HOOK_SESSIONS = 10
API_SESSIONS = 4
PACE = 0.05  # seconds between webhook posts
DOWN = 1.5  # seconds a store stays stopped
RECOVERY = 3.0  # seconds after the store is back within which new messages must succeed


def store_config(
    pg: PrivatePostgres, rd: PrivateRedis, receiver: CallbackReceiver
) -> dict[str, Any]:
    """PostgreSQL + Redis, and a generous rate limit so that every message also takes a
    token from Redis whatever else shared mode uses it for."""
    return {
        "storage": {"url": pg.url},
        "redis": {"url": rd.url},
        "channels": {"webhook": {"callback_url": receiver.url, "timeout": 2}},
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "policy": {"rate_limit": {"per_user": "10000/minute"}},
    }


@dataclass(frozen=True, slots=True)
class Post:
    message_id: str
    text: str
    session: str


@dataclass
class Load:
    """Webhook messages at a steady pace over several conversations, and API conversations
    that each send their next message as soon as the last was answered."""

    http: aiohttp.ClientSession
    gw: RunningGateway
    hooks: list[tuple[Post, Answer]] = field(default_factory=list)
    chats: list[Answer] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._post_hooks()),
            *(asyncio.create_task(self._chat(s)) for s in range(API_SESSIONS)),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    def answers(self) -> list[Answer]:
        return [answer for _post, answer in self.hooks] + self.chats

    async def _post_hooks(self) -> None:
        for n in itertools.count():
            if self._stopping.is_set():
                return
            post = Post(f"h{n}", f"hook {n}", f"w{n % HOOK_SESSIONS}")
            answer = await post_webhook(
                self.http, self.gw, post.message_id, post.text, post.session
            )
            self.hooks.append((post, answer))
            await asyncio.sleep(PACE)

    async def _chat(self, s: int) -> None:
        for n in itertools.count():
            if self._stopping.is_set():
                return
            answer = await api_chat(self.http, self.gw, f"a{s}", f"chat {s} {n}")
            self.chats.append(answer)
            if answer.status != 200:
                await asyncio.sleep(PACE)  # a client backs off a little on errors

    async def repost_refused(self) -> None:
        """What a platform does with a message we did not acknowledge: send it again."""
        for post, answer in self.hooks:
            if answer.status != 202:
                again = await post_webhook(
                    self.http, self.gw, post.message_id, post.text, post.session
                )
                assert again.status in (200, 202), (post, again)


async def store_ok(http: aiohttp.ClientSession, gw: RunningGateway) -> bool:
    return bool((await readyz(http, gw))["store"]["ok"])


async def outage(
    load: Load,
    stop: Callable[[], Awaitable[None]],
    start: Callable[[], Awaitable[None]],
    while_down: Callable[[], Awaitable[None]],
) -> float:
    """A second of normal load, the store stopped (`while_down` runs then), started again,
    and the load kept up past `RECOVERY`; returns when the store was back (monotonic)."""
    load.start()
    await asyncio.sleep(1.0)
    await stop()
    await while_down()
    await start()
    up_at = time.monotonic()
    await asyncio.sleep(RECOVERY + 1.5)
    await load.stop()
    return up_at


def assert_no_hang_and_recovered(load: Load, up_at: float) -> None:
    """Every call got an answer, every error was a JSON one, and everything sent `RECOVERY`
    seconds after the store's return succeeded (the first success came sooner)."""
    answers = load.answers()
    assert all(a.status != TIMEOUT for a in answers), "a call hung during the outage"
    assert all(a.status != DROPPED for a in answers), "a connection was dropped unanswered"
    for answer in answers:
        if answer.status >= 400:
            assert answer.status in (500, 503) and answer.error_code, answer
    late = [a for a in answers if a.sent_at > up_at + RECOVERY]
    assert late and all(a.status in (200, 202) for a in late), late
    first_hook = min(a.sent_at for _post, a in load.hooks if a.sent_at > up_at and a.status == 202)
    first_chat = min(a.sent_at for a in load.chats if a.sent_at > up_at and a.status == 200)
    assert max(first_hook, first_chat) - up_at < RECOVERY


async def assert_each_answered_once(load: Load, receiver: CallbackReceiver) -> None:
    await load.repost_refused()
    ids = [post.message_id for post, _answer in load.hooks]
    await receiver.wait_for(len(ids), timeout=20)
    await asyncio.sleep(1.0)  # a duplicate would arrive within the outbox's 1 s backoff cap
    assert Counter(r["in_reply_to"] for r in receiver.received) == Counter(ids)


async def test_postgres_restart_under_load(gateway_factory: GatewayFactory) -> None:
    async with (
        asyncio.timeout(55),
        PrivatePostgres() as pg,
        PrivateRedis() as rd,
        CallbackReceiver() as receiver,
        aiohttp.ClientSession() as http,
    ):
        gw = await gateway_factory(store_config(pg, rd, receiver))
        load = Load(http, gw)

        async def store_down() -> bool:
            return not await store_ok(http, gw)

        async def while_down() -> None:
            assert await eventually(store_down, 3), "/readyz did not report the store down"
            await asyncio.sleep(DOWN)

        up_at = await outage(load, pg.stop, pg.start, while_down)
        assert await store_ok(http, gw)
        assert any(
            a.status == 503 and a.error_code == "store_unavailable" for a in load.answers()
        ), "no call noticed the outage"
        assert_no_hang_and_recovered(load, up_at)
        await assert_each_answered_once(load, receiver)


async def test_redis_restart_under_load(gateway_factory: GatewayFactory) -> None:
    async with (
        asyncio.timeout(55),
        PrivatePostgres() as pg,
        PrivateRedis() as rd,
        CallbackReceiver() as receiver,
        aiohttp.ClientSession() as http,
    ):
        gw = await gateway_factory(store_config(pg, rd, receiver))
        load = Load(http, gw)
        up_at = await outage(load, rd.stop, rd.start, lambda: asyncio.sleep(DOWN))
        assert_no_hang_and_recovered(load, up_at)
        await assert_each_answered_once(load, receiver)


async def test_reply_accepted_while_postgres_stops_is_not_sent_again(
    gateway_factory: GatewayFactory,
) -> None:
    """The platform accepts replies just as the database goes away, so their `sent` cannot be
    committed: once the store is back the gateway records them, it does not send them again
    (the outbox used to leave such rows pending, and each was delivered twice)."""
    async with (
        asyncio.timeout(40),
        PrivatePostgres() as pg,
        PrivateRedis() as rd,
        CallbackReceiver() as receiver,
        aiohttp.ClientSession() as http,
    ):
        receiver.delay = 1.0
        gw = await gateway_factory(store_config(pg, rd, receiver))
        ids = [f"f{n}" for n in range(10)]
        for n, message_id in enumerate(ids):
            accepted = await post_webhook(http, gw, message_id, f"in flight {n}", f"f{n}")
            assert accepted.status == 202, accepted
        assert await wait_until(lambda: len(receiver.attempts) == len(ids), 10)
        await pg.stop()  # every callback is still held by the receiver...
        await receiver.wait_for(len(ids), timeout=5)  # ...and accepted while the store is down
        receiver.delay = 0.0
        await pg.start()

        async def all_sent() -> bool:
            connection = await asyncpg.connect(pg.url)
            try:
                statuses = await connection.fetch("select status from outbox")
            finally:
                await connection.close()
            return [r["status"] for r in statuses] == ["sent"] * len(ids)

        assert await eventually(all_sent, 10), "the sent replies were never recorded"
        await asyncio.sleep(1.0)  # a resend would come within the outbox's idle poll
        assert Counter(r["in_reply_to"] for r in receiver.received) == Counter(ids)
        assert len(receiver.attempts) == len(ids)
