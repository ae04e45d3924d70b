"""What `bench/run.py --replicas N` needs besides the gateways: a fresh PostgreSQL database and
a Redis nobody else uses.

Why its own Redis: the bench must not flush, fill or lock keys of a Redis that tests or other
runs share, and a private `redis-server` that saves nothing is gone with the run. Why a fresh
database: the reused path's conversations would otherwise start with the turns of the last
run, and two builds measured A B A B must start from the same empty store.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import make_url
from tests.support.private_servers import redis_server_argv

REDIS_START_TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def fresh_postgres(admin_url: str) -> AsyncIterator[str]:
    """A new database on the server of `admin_url` (a superuser's URL), dropped at the end."""
    import asyncpg

    admin = make_url(admin_url)
    connection = await asyncpg.connect(
        admin.set(drivername="postgresql").render_as_string(hide_password=False), timeout=10
    )
    name = f"aibot_bench_{uuid.uuid4().hex[:12]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


@contextlib.asynccontextmanager
async def private_redis(port: int, log: Path) -> AsyncIterator[str]:
    """`redis-server` on 127.0.0.1:`port`, saving nothing, stopped at the end."""
    import redis.asyncio as redis

    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *redis_server_argv(port), stdout=out, stderr=out
        )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.from_url(url)
    try:
        deadline = asyncio.get_running_loop().time() + REDIS_START_TIMEOUT
        while True:
            try:
                await client.ping()
                break
            except (OSError, redis.RedisError):
                if asyncio.get_running_loop().time() > deadline or proc.returncode is not None:
                    raise RuntimeError(f"redis-server on port {port} did not answer") from None
                await asyncio.sleep(0.05)
        yield url
    finally:
        await client.aclose()
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
