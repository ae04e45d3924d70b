"""Limits, access, routes, canary and pairing codes, each against its real back end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as redis

from aibot.config import AccessConfig, CanaryConfig, Config, ConfigError, RouteConfig
from aibot.core.messages import Inbound, ReplyTarget
from aibot.policy.access import AccessPolicy, Verdict
from aibot.policy.cache import LocalAnswerCache, cache_key
from aibot.policy.limits import Limiter, LocalLimiter, SharedStoreDown
from aibot.policy.routes import RouteTable, in_canary
from aibot.policy.shared import RedisAnswerCache, RedisLimiter
from aibot.store.engine import create_engine, migrate
from aibot.store.pairings import PairingStore
from tests.support.clock import FakeClock
from tests.support.databases import redis_database


def inbound(
    text: str = "hi",
    *,
    channel: str = "telegram",
    user: str = "u1",
    chat: str | None = None,
    group: bool = False,
) -> Inbound:
    return Inbound(
        channel=channel,
        session_key=f"{channel}:{chat or user}",
        user_id=user,
        text=text,
        request_id="r",
        received_at=0.0,
        target=ReplyTarget(chat or user, "group" if group else "private"),
    )


async def test_local_bucket_allows_exactly_n_then_refills() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    results = [await limiter.take("k", 5, 5 / 60) for _ in range(8)]
    assert [r == 0 for r in results] == [True] * 5 + [False] * 3
    assert results[5] == pytest.approx(12.0)  # one token every 12 s
    clock.now += 12
    assert await limiter.take("k", 5, 5 / 60) == 0
    assert await limiter.take("k", 5, 5 / 60) > 0


async def test_redis_bucket_is_one_limit_for_many_clients() -> None:
    async with redis_database() as url:
        clients = [RedisLimiter(redis.from_url(url)) for _ in range(3)]
        results = await asyncio.gather(*(clients[i % 3].take("k", 10, 10 / 60) for i in range(25)))
        assert sum(r == 0 for r in results) == 10
        assert all(0 < r <= 6.1 for r in results if r)
        await asyncio.gather(*(c.close() for c in clients))


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_usage_counters_add_up_and_expire(backend: str) -> None:
    async with redis_database() as url:
        clock = FakeClock()
        limiter: Limiter = (
            LocalLimiter(clock) if backend == "local" else RedisLimiter(redis.from_url(url))
        )
        assert await limiter.add_usage("q", 40, 3600) == 40
        assert await limiter.add_usage("q", 2, 3600) == 42
        assert await limiter.usage("q") == 42 and await limiter.usage("other") == 0
        if backend == "local":
            clock.now += 3601
            assert await limiter.usage("q") == 0
        await limiter.close()


async def test_a_redis_outage_is_reported_as_shared_store_down() -> None:
    limiter = RedisLimiter(redis.from_url("redis://127.0.0.1:1/0"))  # nothing listens there
    with pytest.raises(SharedStoreDown):
        await limiter.take("k", 1, 1.0)
    await limiter.close()


def test_access_lists_and_dm_policies() -> None:
    open_policy = AccessPolicy(AccessConfig(deny_users=["telegram:bad"], deny_chats=["g2"]))
    assert open_policy.verdict(inbound()) is Verdict.ALLOW
    assert open_policy.verdict(inbound(user="bad")) is Verdict.DENY
    assert open_policy.verdict(inbound(user="bad", channel="feishu")) is Verdict.ALLOW
    assert open_policy.verdict(inbound(chat="g2", group=True)) is Verdict.DENY

    allow = AccessPolicy(
        AccessConfig(dm_policy="allowlist", allow_users=["u1"], allow_chats=["g1"])
    )
    assert allow.verdict(inbound()) is Verdict.ALLOW
    assert allow.verdict(inbound(user="u2")) is Verdict.DENY
    assert allow.verdict(inbound(user="u2", chat="g1", group=True)) is Verdict.ALLOW
    assert allow.verdict(inbound(user="u1", chat="g3", group=True)) is Verdict.DENY
    assert allow.verdict(inbound(user="u2", channel="api")) is Verdict.ALLOW  # keyed callers

    pairing = AccessPolicy(AccessConfig(dm_policy="pairing", admins=["telegram:boss"]))
    assert pairing.verdict(inbound(user="stranger")) is Verdict.PAIR
    no_key = lambda _principal: False  # noqa: E731
    assert pairing.is_admin(inbound(user="boss"), no_key)
    assert not pairing.is_admin(inbound(), no_key)
    assert AccessPolicy(AccessConfig()).is_admin(inbound(), no_key)


def test_keyed_callers_are_admins_by_their_key_never_by_a_named_id() -> None:
    """Issue 16, item 4: `admins` names platform users; the page's and the APIs' callers
    choose their own ids, so only the key they authenticated with can make them admins."""
    policy = AccessPolicy(AccessConfig(admins=["telegram:4242", "12345678", "api:key-1:bob"]))
    admin_keys = {"key-9"}.__contains__
    for channel in ("api", "openai", "webhook", "web"):
        for claimed in ("4242", "telegram:4242", "12345678", "api:key-1:bob", "bob"):
            caller = inbound(user=claimed, channel=channel)
            caller.principal = "key-1"
            assert not policy.is_admin(caller, admin_keys), (channel, claimed)
        caller = inbound(user="anyone", channel=channel)
        caller.principal = "key-9"
        assert policy.is_admin(caller, admin_keys)
    assert policy.is_admin(inbound(user="4242", channel="telegram"), admin_keys)
    assert policy.is_admin(inbound(user="12345678", channel="feishu"), admin_keys)
    assert policy.is_admin(inbound(user="me", channel="cli"), admin_keys)  # the server's shell


def test_first_matching_route_wins() -> None:
    table = RouteTable(
        [
            RouteConfig.model_validate({"name": "faq", "match": {"prefix": "/faq"}, "reply": "A"}),
            RouteConfig.model_validate(
                {"name": "ops-group", "match": {"chat_type": "group", "chat_id": "g1"}}
            ),
            RouteConfig.model_validate({"name": "code", "match": {"regex": r"```|\bdef\b"}}),
            RouteConfig.model_validate({"name": "feishu", "match": {"channel": "feishu"}}),
        ]
    )

    def name(item: Inbound) -> str | None:
        route = table.resolve(item)
        return route.name if route else None

    assert name(inbound("/faq hours", chat="g1", group=True)) == "faq"
    assert name(inbound("def f(): pass", chat="g1", group=True)) == "ops-group"
    assert name(inbound("def f(): pass", channel="feishu")) == "code"
    assert name(inbound("hello", channel="feishu")) == "feishu"
    assert name(inbound("hello")) is None


def test_route_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        RouteConfig.model_validate({"name": "x", "match": {"regex": "("}})
    with pytest.raises(ValueError, match="names provider 'nope'"):
        Config.model_validate({"routes": [{"name": "x", "provider": "nope"}]})
    with pytest.raises(ValueError, match=r"canary\.provider"):
        Config.model_validate({"models": {"canary": {"provider": "nope", "weight": 5}}})


def test_canary_split_is_sticky_and_near_its_weight() -> None:
    canary = CanaryConfig(provider="new", weight=10)
    picks = [in_canary(f"telegram:{i}", canary) for i in range(1000)]
    assert 70 <= sum(picks) <= 130, sum(picks)
    assert picks == [in_canary(f"telegram:{i}", canary) for i in range(1000)]
    assert not any(in_canary(f"s{i}", CanaryConfig(provider="n", weight=0)) for i in range(100))
    assert all(in_canary(f"s{i}", CanaryConfig(provider="n", weight=100)) for i in range(100))


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_answer_cache_hits_by_folded_question_and_expires(backend: str) -> None:
    async with redis_database() as url:
        clock = FakeClock()
        client = redis.from_url(url)
        cache = LocalAnswerCache(10, clock) if backend == "local" else RedisAnswerCache(client)
        key = cache_key("What are your opening hours?", "", "fake")
        assert key == cache_key("what are your OPENING hours", "", "fake")
        assert key != cache_key("What are your opening hours?", "", "other")
        assert await cache.get(key) is None
        await cache.put(key, "9 to 5", 0.5)
        assert await cache.get(key) == "9 to 5"
        if backend == "local":
            clock.now += 1
        else:
            await asyncio.sleep(0.6)
        assert await cache.get(key) is None
        await client.aclose()


async def test_pairing_codes_flow(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    await migrate(engine)
    store = PairingStore(engine)
    code = await store.request("telegram", "u1", 100.0, 60, max_pending=2)
    assert code is not None and len(code) == 8
    assert await store.request("telegram", "u1", 110.0, 60, max_pending=2) == code
    assert await store.request("telegram", "u2", 110.0, 60, max_pending=2) is not None
    assert await store.request("telegram", "u3", 110.0, 60, max_pending=2) is None  # too many
    assert not await store.is_approved("telegram", "u1")
    assert await store.approve(code.lower(), 200.0) is None  # expired at 160
    fresh = await store.request("telegram", "u1", 200.0, 60, max_pending=2)
    assert fresh is not None and fresh != code
    approved = await store.approve(f"{fresh[:4].lower()}-{fresh[4:]}", 210.0)
    assert approved is not None and approved.user_id == "u1"
    assert await store.is_approved("telegram", "u1")
    assert await store.approve(fresh, 211.0) is None  # used once
    assert await store.revoke("telegram", "u1") and not await store.is_approved("telegram", "u1")
    await engine.dispose()


def test_unreadable_word_file_is_a_config_error(tmp_path: Path) -> None:
    from aibot.policy.policies import Policies

    config = Config.model_validate(
        {"policy": {"sensitive_words": {"files": [str(tmp_path / "missing.txt")]}}}
    )
    with pytest.raises(ConfigError, match=r"sensitive_words\.files"):
        Policies(config)
