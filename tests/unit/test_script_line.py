"""The session lock's calls over a pipelined connection of its own (replicas/script_line.py):
not one command through redis-py's client per message, the calls of one loop iteration in one
write, every reply to its own caller however many are in flight, a script the server forgot
sent whole, a lost connection failing what was in flight and replaced for the next call, a
silent Redis failing the call within redis-py's read timeout, and a caller that gave up leaving
the others in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aibot.replicas.locks import RedisSessionLocks
from aibot.replicas.script_line import ScriptLine
from tests.support.databases import redis_client

ECHO = "return {KEYS[1], ARGV[1]}"


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    async with redis_client() as connection:
        yield connection


@pytest.fixture
async def line(client: redis.Redis) -> AsyncIterator[ScriptLine]:
    made = ScriptLine(client)
    try:
        yield made
    finally:
        await made.close()


async def test_a_message_sends_nothing_through_the_client(client: redis.Redis) -> None:
    sent: list[Any] = []
    execute: Any = client.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        sent.append(args[0])
        return await execute(*args, **options)

    locks = RedisSessionLocks(client, "a", ttl=5.0)
    await locks.carry_stamps()
    setattr(client, "execute_command", counted)  # noqa: B010
    try:
        for session in ("s", "t", "s"):
            async with locks.hold(session, wait=True) as held:
                assert held
                locks.leave(session, 1.5)
        async with locks.hold("s", wait=False) as held:
            assert held and locks.seen("s") == 1.5
    finally:
        await locks.close()
    assert sent == []
    assert await client.get("aibot:stamp:s") is not None


async def test_every_caller_gets_its_own_reply(client: redis.Redis, line: ScriptLine) -> None:
    echo = client.register_script(ECHO)
    replies = await asyncio.gather(
        *(line.call(echo, [f"key-{i}"], [f"值 {i}"]) for i in range(300))
    )
    assert replies == [[f"key-{i}".encode(), f"值 {i}".encode()] for i in range(300)]


async def test_the_calls_of_one_loop_iteration_leave_in_one_write(
    client: redis.Redis, line: ScriptLine
) -> None:
    echo = client.register_script(ECHO)
    assert await line.call(echo, ["k"], ["open"]) == [b"k", b"open"]
    assert line._line is not None
    writer = line._line._writer
    writes: list[int] = []
    write = writer.writelines

    def counted(data: Any) -> None:
        chunks = list(data)
        writes.append(len(chunks))
        write(chunks)

    setattr(writer, "writelines", counted)  # noqa: B010
    replies = await asyncio.gather(*(line.call(echo, [f"k{i}"], [i]) for i in range(50)))
    assert replies == [[f"k{i}".encode(), b"%d" % i] for i in range(50)]
    assert len(writes) == 1
    assert await line.call(echo, ["k"], ["alone"]) == [b"k", b"alone"]
    assert len(writes) == 2


async def test_a_script_the_server_forgot_is_sent_whole(
    client: redis.Redis, line: ScriptLine
) -> None:
    echo = client.register_script(ECHO)
    assert await line.call(echo, ["k"], [1]) == [b"k", b"1"]
    await client.script_flush()
    assert await line.call(echo, ["k"], [2]) == [b"k", b"2"]


async def test_an_error_reply_is_raised_and_the_line_goes_on(
    client: redis.Redis, line: ScriptLine
) -> None:
    failing = client.register_script("return redis.error_reply('ERR refused')")
    with pytest.raises(ResponseError, match="refused"):
        await line.call(failing, [], [])
    assert await line.call(client.register_script(ECHO), ["k"], ["v"]) == [b"k", b"v"]


async def test_a_lost_connection_fails_what_was_in_flight_and_the_next_call_reconnects(
    client: redis.Redis, line: ScriptLine
) -> None:
    echo = client.register_script(ECHO)
    assert await line.call(echo, ["k"], ["before"]) == [b"k", b"before"]
    await client.client_pause(5000, all=False)  # WRITE: a script waits
    try:
        in_flight = asyncio.create_task(line.call(echo, ["k"], ["lost"]))
        await asyncio.sleep(0.1)
        await client.client_kill_filter(_type="normal", skipme=True)
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(in_flight, 5)
    finally:
        await client.client_unpause()
    assert await line.call(echo, ["k"], ["after"]) == [b"k", b"after"]


async def test_a_caller_that_gave_up_leaves_the_others_in_order(
    client: redis.Redis, line: ScriptLine
) -> None:
    echo = client.register_script(ECHO)
    calls = [asyncio.create_task(line.call(echo, ["k"], [i])) for i in range(5)]
    await asyncio.sleep(0)
    calls[2].cancel()
    answered = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(answered[2], asyncio.CancelledError)
    assert [a for i, a in enumerate(answered) if i != 2] == [
        [b"k", b"%d" % i] for i in (0, 1, 3, 4)
    ]
    assert await line.call(echo, ["k"], ["next"]) == [b"k", b"next"]


async def test_a_redis_that_stops_answering_fails_the_call_within_its_timeout(
    client: redis.Redis,
) -> None:
    options = {**client.connection_pool.connection_kwargs, "socket_timeout": 0.3}
    slow = redis.Redis(connection_pool=redis.ConnectionPool(**options))
    line = ScriptLine(slow)
    echo = slow.register_script(ECHO)
    try:
        assert await line.call(echo, ["k"], ["before"]) == [b"k", b"before"]
        await client.client_pause(3000, all=False)  # WRITE: a script waits
        try:
            with pytest.raises(RedisTimeoutError):
                await line.call(echo, ["k"], ["stuck"])
        finally:
            await client.client_unpause()
        assert await line.call(echo, ["k"], ["after"]) == [b"k", b"after"]
    finally:
        await line.close()
        await slow.aclose()


def other_client(client: redis.Redis, **options: Any) -> redis.Redis:
    """A client of the same Redis with other connection options (as a URL's query sets them)."""
    kwargs = {**client.connection_pool.connection_kwargs, **options}
    return redis.Redis(connection_pool=redis.ConnectionPool(**kwargs))


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
async def test_calls_are_packed_by_hiredis_unless_the_url_asks_another_encoding(
    client: redis.Redis, encoding: str
) -> None:
    """The same bytes either way, for what the lock sends (text, non-ASCII session keys,
    integers); redis-py's packing, 10 µs a call, only where its encoding is not hiredis'."""
    echoing = other_client(client, encoding=encoding)
    line = ScriptLine(echoing)
    echo = echoing.register_script(ECHO)
    packed_by_redis_py: list[Any] = []
    try:
        assert await line.call(echo, ["k"], ["open"]) == [b"k", b"open"]
        assert line._line is not None
        connection = line._line._connection
        pack = connection.pack_command

        def counted(*args: Any) -> Any:
            packed_by_redis_py.append(args[0])
            return pack(*args)

        setattr(connection, "pack_command", counted)  # noqa: B010
        key = "aibot:session:群聊:u1" if encoding == "utf-8" else "aibot:session:café"
        assert await line.call(echo, [key], ["tok:1"]) == [key.encode(encoding), b"tok:1"]
        assert await line.call(echo, ["k"], [5000]) == [b"k", b"5000"]
    finally:
        await line.close()
        await echoing.aclose()
    assert packed_by_redis_py == ([] if encoding == "utf-8" else ["EVALSHA", "EVALSHA"])


def test_hiredis_packs_the_lock_calls_as_redis_py_does() -> None:
    import hiredis
    from redis.asyncio.connection import Connection

    connection = Connection()
    commands: list[tuple[Any, ...]] = [
        ("EVALSHA", "0" * 40, 2, "aibot:session:群聊:u1", "aibot:stamp:群聊:u1", "r1:7", 5000),
        ("EVAL", "return 1", 2, "k", "s", "tok", '1:20.5:10.25:2:[["user","你好"]]', 36000),
        ("EVALSHA", "1" * 40, 1, "aibot:session:\u0000\r\n", ""),
    ]
    for command in commands:
        assert [hiredis.pack_command(command)] == connection.pack_command(*command)
