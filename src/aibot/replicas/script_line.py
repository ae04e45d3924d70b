"""The session lock's two script calls per message, over one pipelined Redis connection.

Through redis-py every call is a pool checkout, its retry and observability wrappers, a socket
write and a read awaited on its own: ~65 µs of CPU per call measured alone (redis-py 8.2), two
per message in scale-out mode, the largest part of a replica's time after SQL (issue 20). Here
each call is one write on a connection of the lock's own, and a single reader hands the replies
out in order (Redis answers a connection's commands in the order they came), so the calls of
concurrent messages share the reader's wake-ups and nobody waits for a connection.

The connection is one redis-py opens (its connection class with the pool's arguments: the
URL's address, TLS, user, password, database and protocol, as for every other client), whose
streams are then read and written here. When it breaks, every call waiting on it fails with
redis-py's `ConnectionError` (callers treat it as before: the lock is unavailable) and the next
call opens a new one; a call unanswered within the URL's `socket_timeout` (redis-py's, 5 s by
default) fails with its `TimeoutError` and breaks the connection the same way. A call whose
caller gave up is still answered by Redis and its reply dropped, as with redis-py: a lock it
took lapses after its ttl. The script runs by its SHA; a server that does not know it
(restarted, flushed) gets it whole once.

The calls of one loop iteration leave in one write, at the end of it: the messages that arrive
together take their locks together, and the group commit hands many messages back at once,
which release theirs together. A write per call was two socket writes per message, each waking
Redis (12 % of a replica's GIL time in a py-spy profile of two replicas, bench/README.md issue
20 step 15). The timeout is one timer per line on its oldest unanswered call (replies come in
order, so it is the first to be late), where `asyncio.wait_for` armed and cancelled a timer
and chained a future per call. The calls are packed by hiredis directly (1 µs instead of
redis-py's 10 µs per call: its encoder checks and converts each argument in Python) when the
connection encodes text as redis-py's default does, UTF-8 strictly, which is what hiredis
does; the lock's arguments are only text and integers. A URL that asks for another encoding
keeps redis-py's packing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_INCOMPLETE = object()  # hiredis' answer while a reply is not whole yet


class ScriptLine:
    """Runs registered scripts over one connection of its own, many calls in flight at once."""

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        # redis-py's read timeout for the URL (5 s by default): a Redis that stops answering
        # fails the call, and the connection is replaced, instead of holding the message.
        self._timeout = self._pool.connection_kwargs.get("socket_timeout")
        self._line: _Line | None = None
        self._opening = asyncio.Lock()

    async def call(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        head = (len(keys), *keys, *args)
        reply = await self._send("EVALSHA", script.sha, *head)
        if isinstance(reply, NoScriptError):
            source = script.script
            text = source if isinstance(source, str | bytes) else bytes(source)
            reply = await self._send("EVAL", text, *head)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _send(self, *command: Any) -> Any:
        line = self._line
        if line is None or line.broken:
            line = await self._open()
        return await line.send(*command)

    async def _open(self) -> _Line:
        async with self._opening:
            if self._line is None or self._line.broken:
                if self._line is not None:
                    await self._line.close()
                pool = self._pool
                connection: Any = pool.connection_class(**pool.connection_kwargs)
                await connection.connect()
                self._line = _Line(connection, self._timeout)
            return self._line

    async def close(self) -> None:
        if self._line is not None:
            await self._line.close()
            self._line = None


class _Line:
    def __init__(self, connection: Any, timeout: float | None) -> None:
        self._connection = connection
        self._reader: asyncio.StreamReader = connection._reader
        self._writer: asyncio.StreamWriter = connection._writer
        self._loop = asyncio.get_running_loop()
        # Each call's reply future and the loop time by which it must be answered.
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._timeout = timeout
        self._watch: asyncio.TimerHandle | None = None
        self._outgoing: list[bytes] = []  # packed commands of this loop iteration
        self._replies = hiredis.Reader(notEnoughData=_INCOMPLETE)
        encoder = connection.encoder
        self._hiredis_packs = (encoder.encoding, encoder.encoding_errors) == ("utf-8", "strict")
        self.broken = False
        self._task = asyncio.create_task(self._read(), name="redis-script-line")

    def send(self, *command: Any) -> asyncio.Future[Any]:
        """Queues `command`, encoded by redis-py as for any call on this connection, for the
        write at the end of this loop iteration."""
        if self.broken:
            raise RedisConnectionError("the Redis connection was lost")
        # Packed before a reply is awaited for it: an argument it cannot pack fails the call.
        if self._hiredis_packs:
            packed = [hiredis.pack_command(command)]
        else:
            packed = self._connection.pack_command(*command)
        waiting = self._loop.create_future()
        deadline = self._loop.time() + self._timeout if self._timeout is not None else 0.0
        self._waiting.append((waiting, deadline))
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.extend(packed)
        if self._watch is None and self._timeout is not None:
            self._watch = self._loop.call_at(deadline, self._check)
        return waiting

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.broken:
            return
        try:
            self._writer.writelines(outgoing)
        except (OSError, RuntimeError) as exc:
            self.fail(RedisConnectionError(f"could not write to Redis: {exc}"))

    def _check(self) -> None:
        """The oldest unanswered call's deadline: a Redis that has not answered it by then
        fails the line (every call waiting on it, as a lost connection does)."""
        self._watch = None
        if not self._waiting or self.broken:
            return
        deadline = self._waiting[0][1]
        if self._loop.time() >= deadline:
            self.fail(RedisTimeoutError(f"Redis did not answer within {self._timeout} s"))
        else:
            self._watch = self._loop.call_at(deadline, self._check)

    async def _read(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    raise RedisConnectionError("Redis closed the connection")
                self._replies.feed(data)
                while (reply := self._replies.gets()) is not _INCOMPLETE:
                    waiting = self._waiting.popleft()[0]
                    if not waiting.done():
                        waiting.set_result(_error(reply))
        except asyncio.CancelledError:
            self.fail(RedisConnectionError("the Redis connection was closed"))
            raise
        except (OSError, RedisConnectionError, hiredis.ProtocolError, IndexError) as exc:
            self.fail(exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(exc))

    def fail(self, error: RedisConnectionError | RedisTimeoutError) -> None:
        self.broken = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self._waiting:
            waiting = self._waiting.popleft()[0]
            if not waiting.done():
                waiting.set_exception(error)
        self._writer.close()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._connection.disconnect()


def _error(reply: Any) -> Any:
    """An error reply as redis-py's exception (returned, the caller raises it)."""
    if isinstance(reply, hiredis.ReplyError):
        text = str(reply)
        return NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)
    return reply
