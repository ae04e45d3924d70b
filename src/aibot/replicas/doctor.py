"""`ai-bot doctor`'s word on scale-out: is Redis there, and can this store be shared."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
from redis.exceptions import RedisError

from aibot.config import Config
from aibot.ops.checks import Check

TIMEOUT = 3.0


async def replicas_check(config: Config) -> Check:
    url = config.redis.url
    shared_store = config.storage.shareable
    if not url:
        return Check(
            "replicas",
            "ok",
            "one replica (no redis.url)"
            + ("; set redis.url to run several" if shared_store else ""),
        )
    client = redis.from_url(url)
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.ping()
            alive = await client.zcount("aibot:replicas", "(" + str(await _now_ms(client)), "+inf")
    except (RedisError, OSError, TimeoutError) as exc:
        return Check(
            "replicas",
            "fail",
            f"Redis unreachable: {str(exc)[:200] or 'timeout'}",
            "check redis.url and that Redis is running",
        )
    finally:
        await client.aclose()
    if not shared_store:
        return Check(
            "replicas",
            "warn",
            "redis.url is set but the store is SQLite: limits and the cache are "
            "shared, the conversations are not",
            "run one replica, or use a postgresql:// or mysql:// store to run several",
        )
    return Check(
        "replicas",
        "ok",
        f"scale-out mode ({_database_name(config)} + Redis); {alive} replica(s) running now",
    )


def _database_name(config: Config) -> str:
    return "MySQL/MariaDB" if config.storage.url.startswith(("mysql", "mariadb")) else "PostgreSQL"


async def _now_ms(client: redis.Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000
