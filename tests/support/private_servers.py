"""Private store servers: a PostgreSQL cluster and a Redis server that a test may stop and
restart, and the Redis server of a whole test process.

The machine's shared servers (127.0.0.1:5432 and :6379) serve other tests and must never be
stopped, so a store-fault test gets its own: a throwaway `initdb` cluster and a `redis-server`
without persistence, each on a free loopback port, removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.net import free_port


def _pg_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them off PATH)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql")
    return found[-1].parent


async def _run(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{output.decode()}")
    return output.decode()


class PrivatePostgres:
    """`initdb` into a temporary directory (as the `postgres` user when we are root, which
    initdb refuses to be), trust authentication, listening on 127.0.0.1 only.

    Not under pytest's tmp_path: that directory is private to root and the server runs as
    another user. Durability settings are off: every stop here is a clean (fast) shutdown.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._bin = _pg_bin()
        self._dir = Path(tempfile.mkdtemp(prefix="aibot-pg-"))
        self._data = self._dir / "data"
        self._as_user: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def __aenter__(self) -> Self:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self._dir, owner.pw_uid, owner.pw_gid)
            self._as_user = ("runuser", "-u", "postgres", "--")
        await _run(
            *self._as_user,
            str(self._bin / "initdb"),
            "-D",
            str(self._data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "--no-instructions",
        )
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            await _run(
                *self._as_user,
                str(self._bin / "pg_ctl"),
                "stop",
                "-D",
                str(self._data),
                "-m",
                "immediate",
                "-w",
            )
        shutil.rmtree(self._dir, ignore_errors=True)

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=60 -c shared_buffers=16MB"
        )
        await _run(
            *self._as_user,
            str(self._bin / "pg_ctl"),
            "start",
            "-D",
            str(self._data),
            "-l",
            str(self._dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "20",
        )

    async def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are cut, as in a restart for an upgrade or failover."""
        await _run(
            *self._as_user,
            str(self._bin / "pg_ctl"),
            "stop",
            "-D",
            str(self._data),
            "-m",
            "fast",
            "-w",
            "-t",
            "20",
        )


def redis_server_argv(port: int) -> list[str]:
    """`redis-server` on 127.0.0.1:`port` that saves nothing: a stop loses every key."""
    return [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]


class PrivateRedis:
    """`redis-server` on a free loopback port, nothing saved: a restart loses every key."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        import redis.asyncio as redis

        self._process = await asyncio.create_subprocess_exec(
            *redis_server_argv(self.port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except (OSError, redis.RedisError):
                    await asyncio.sleep(0.02)
            raise RuntimeError(f"redis-server on port {self.port} did not answer")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            await process.wait()


class ProcessRedis:
    """One `redis-server` per test process, started on first use (`url`) and stopped at the end
    of the session by the root conftest. Each pytest-xdist worker is a process of its own, so
    workers (and runs of different engineers) never flush each other's keys, and the machine's
    shared Redis is left alone."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    def url(self) -> str:
        """The server's URL, after starting it if needed; blocks until it answers."""
        if self._url is None:
            port = free_port()
            self._process = subprocess.Popen(
                redis_server_argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self._url = f"redis://127.0.0.1:{port}/0"
            self._wait_until_it_answers()
        return self._url

    def _wait_until_it_answers(self) -> None:
        import redis

        client = redis.Redis.from_url(str(self._url))
        try:
            for _ in range(250):
                try:
                    client.ping()
                    return
                except (OSError, redis.RedisError):
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RuntimeError("the test process's redis-server did not answer within 5 s")

    def stop(self) -> None:
        process, self._process, self._url = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


PROCESS_REDIS = ProcessRedis()
