"""Our own small asyncio client of DingTalk's Stream protocol (PROTOCOLS §4.2), on aiohttp.

Why not the official `dingtalk-stream` SDK: it asks for its ticket and tokens with blocking
`requests` calls inside the event loop (stalling every other conversation of the gateway while
DingTalk answers), sleeps a fixed 3 s or 10 s after any failure, never notices a half-dead
connection it does not read from, and brings `websockets` and `requests` along. The protocol
itself is small: ask `/v1.0/gateway/connections/open` for an endpoint and a one-time ticket,
open the WebSocket, answer every frame with an ack carrying its `messageId`.

Guarantees kept here:
- a robot message is acknowledged only after `on_message` returned, i.e. after the inbox commit;
  if that fails the frame stays unacknowledged and DingTalk delivers it again;
- `ping` frames are echoed, events acknowledged, unknown callbacks refused (404), so nothing
  is left for DingTalk to push again needlessly;
- WebSocket pings every `keepalive` seconds; a missing pong ends the connection;
- `disconnect`, a closed or a dead connection lead to a new connection with a fresh ticket:
  at once after `disconnect`, otherwise after an exponential backoff with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import orjson
import structlog

from aibot import __version__
from aibot.channels.base import Problem
from aibot.channels.dingtalk.client import DingtalkApi
from aibot.channels.errors import PlatformError
from aibot.i18n import N_
from aibot.ops.proxy import proxy_for

log = structlog.get_logger("aibot.dingtalk")

BOT_TOPIC = "/v1.0/im/bot/messages/get"
SUBSCRIPTIONS = [{"type": "EVENT", "topic": "*"}, {"type": "CALLBACK", "topic": BOT_TOPIC}]
USER_AGENT = f"ai-bot/{__version__} (aiohttp)"
DRAIN_ON_DISCONNECT = 5.0  # DingTalk closes about 10 s after `disconnect`: finish acks first

MessageHandler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Frame:
    type: str
    topic: str
    message_id: str
    data: str


def parse_frame(raw: str | bytes) -> Frame | None:
    """A pushed frame, or None when it is not one (no messageId to acknowledge)."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("headers"), dict):
        return None
    headers = frame["headers"]
    message_id = headers.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return None
    data = frame.get("data")
    return Frame(
        str(frame.get("type", "")),
        str(headers.get("topic", "")),
        message_id,
        data if isinstance(data, str) else "",
    )


def ack(message_id: str, data: str, *, code: int = 200, message: str = "OK") -> str:
    """The answer DingTalk expects for a frame (`data` is itself a JSON string)."""
    return orjson.dumps(
        {
            "code": code,
            "headers": {"contentType": "application/json", "messageId": message_id},
            "message": message,
            "data": data,
        }
    ).decode()


_BOT_ACK = orjson.dumps({"response": "OK"}).decode()
_EVENT_ACK = orjson.dumps({"status": "SUCCESS", "message": "success"}).decode()


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base·2^attempt)."""
    return float(min(cap, base * 2**attempt)) * (0.5 + random.random() / 2)  # noqa: S311


class StreamClient:
    def __init__(
        self,
        api: DingtalkApi,
        on_message: MessageHandler,
        *,
        keepalive: float,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._clock = clock
        self._on_message = on_message
        self._keepalive = keepalive
        self._backoff = (backoff_base, backoff_max)
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = False
        self.last_error: Problem | None = None

    async def run(self) -> None:
        """Connects, serves and reconnects until cancelled."""
        attempt = 0
        while True:
            disconnected, served = False, False
            try:
                endpoint, ticket = await self._api.open_connection(SUBSCRIPTIONS, USER_AGENT)
                url = f"{endpoint}{'&' if '?' in endpoint else '?'}ticket={quote_plus(ticket)}"
                async with self._api.session.ws_connect(
                    url,
                    heartbeat=self._keepalive,
                    proxy=proxy_for(endpoint),
                    timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                ) as ws:
                    self.connected, self.last_error = True, None
                    log.info("dingtalk stream connected")
                    disconnected, served = await self._serve(ws)
                    if not disconnected:
                        self.last_error = Problem(
                            N_("connection closed ({code})"), {"code": ws.close_code}
                        )
            except PlatformError as exc:
                self.last_error = Problem(
                    N_(
                        "could not open a stream connection: {error} "
                        "(check channels.dingtalk.client_id / client_secret)"
                    )
                    if exc.status in (400, 401, 403)
                    else N_("could not open a stream connection: {error}"),
                    {"error": str(exc)},
                )
            except aiohttp.ClientResponseError as exc:  # its repr holds the URL and ticket
                self.last_error = Problem(
                    N_("stream handshake refused: HTTP {status} {message}"),
                    {"status": exc.status, "message": exc.message},
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                self.last_error = Problem(
                    N_("stream connection failed: {error}"), {"error": repr(exc)}
                )
            except Exception as exc:  # a strange answer must not end the channel for good
                log.exception("dingtalk stream failed unexpectedly")
                self.last_error = Problem(N_("stream failed: {error}"), {"error": repr(exc)})
            finally:
                self.connected = False
            if disconnected:
                log.info("dingtalk asked us to reconnect; opening a new connection")
                attempt = 0
                continue
            attempt = 0 if served else attempt
            delay = backoff_delay(attempt, *self._backoff)
            attempt += 1
            log.warning(
                "dingtalk stream lost; reconnecting",
                error=str(self.last_error),
                retry_in=round(delay, 2),
            )
            await asyncio.sleep(delay)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[bool, bool]:
        """Reads frames until the connection ends; returns (DingTalk said disconnect, any
        frame was received)."""
        served = False
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            frame = parse_frame(message.data)
            if frame is None:
                log.warning("dingtalk sent something that is not a frame")
                continue
            served = True
            if frame.type == "SYSTEM":
                await self._send(ws, ack(frame.message_id, frame.data))
                if frame.topic == "disconnect":
                    await self._drain()
                    await ws.close()
                    return True, served
            elif frame.type == "EVENT":
                await self._send(ws, ack(frame.message_id, _EVENT_ACK))
            elif frame.type == "CALLBACK" and frame.topic == BOT_TOPIC:
                task = asyncio.create_task(self._deliver(ws, frame))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif frame.type == "CALLBACK":
                await self._send(
                    ws, ack(frame.message_id, "{}", code=404, message="no handler for this topic")
                )
        return False, served

    async def _deliver(self, ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
        """Hands a robot message on; the ack leaves only once the handler has committed it."""
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            await self._send(ws, ack(frame.message_id, "{}", code=400, message="bad data"))
            return
        started = self._clock()
        try:
            await self._on_message(data)
        except Exception:
            log.exception(
                "dingtalk message not stored; leaving it unacknowledged for a redelivery",
                message_id=frame.message_id,
            )
            return
        await self._send(ws, ack(frame.message_id, _BOT_ACK))
        log.debug("dingtalk message acknowledged", seconds=round(self._clock() - started, 3))

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_ON_DISCONNECT)

    @staticmethod
    async def _send(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
        """A lost connection just loses the ack: DingTalk pushes the frame again."""
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            await ws.send_str(text)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
