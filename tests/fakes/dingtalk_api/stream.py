"""The Stream gateway: WebSocket connections, CALLBACK frames, acks and re-delivery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.fakes.dingtalk_api.records import (
    BOT_TOPIC,
    CLIENT_ID,
    CLIENT_SECRET,
    Ack,
    Connection,
    Pending,
    Sent,
    _error,
)
from tests.fakes.dingtalk_files import DingtalkFiles
from tests.fakes.loopback import LoopbackServer


class _StreamGateway:
    """The fake's state, and the WebSocket side that pushes frames and waits for acks."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        ack_timeout: float = 3.0,
        disconnect_grace: float = 0.5,
        ticket_ttl: float = 90.0,
        token_ttl: int = 7200,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ack_timeout = ack_timeout
        self.disconnect_grace = disconnect_grace
        self.ticket_ttl = ticket_ttl
        self.token_ttl = token_ttl
        self._server = LoopbackServer()
        self._tickets: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, tuple[str, int]] = {}  # session -> (conversation, expiry ms)
        self._groups: set[str] = set()
        self._staff: set[str] = set()
        self._failures: dict[str, list[tuple[int, dict[str, Any]] | None]] = {}
        self._ids = itertools.count(1)
        self._redeliverer: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self.connections: list[Connection] = []
        self.opens: list[dict[str, Any]] = []
        self.tickets: list[str] = []
        self.pending: dict[str, Pending] = {}
        self.acks: list[Ack] = []
        self.pongs: list[Ack] = []
        self.bad_acks: list[str] = []
        self.redeliveries = 0
        self.token_requests = 0
        self.sent: list[Sent] = []
        self.refused: list[tuple[str, dict[str, Any]]] = []
        self.base_url = ""
        self.files = DingtalkFiles(self._authorised, self.client_id, lambda: self.base_url)

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        return self._tokens.get(token, 0.0) > time.monotonic()

    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed]

    # -- the stream gateway ----------------------------------------------------------------
    def _send_frame(
        self, kind: str, topic: str, message_id: str, data: str, conn: Connection | None = None
    ) -> None:
        targets = [conn] if conn else [c for c in self.live if not c.frozen][-1:]
        frame = orjson.dumps(
            {
                "specVersion": "1.0",
                "type": kind,
                "headers": {
                    "appId": "fakeapp",
                    "connectionId": "conn",
                    "contentType": "application/json",
                    "messageId": message_id,
                    "time": str(int(time.time() * 1000)),
                    "topic": topic,
                },
                "data": data,
            }
        ).decode()
        for target in targets:
            task = asyncio.create_task(target.ws.send_str(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.disconnect_grace)
        conn.closed = True
        with contextlib.suppress(Exception):
            await conn.ws.close()

    async def _redeliver(self) -> None:
        """An unacknowledged frame is pushed again, under a new messageId, to a live
        connection (DingTalk does not document whether the id is kept; dedupe on msgId)."""
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            if not [c for c in self.live if not c.frozen]:
                continue
            for old_id, item in list(self.pending.items()):
                if item.deadline > now:
                    continue
                del self.pending[old_id]
                new_id = f"frame-{next(self._ids)}"
                self.pending[new_id] = Pending(
                    item.data, new_id, now + self.ack_timeout, item.deliveries + 1
                )
                self.redeliveries += 1
                self._send_frame("CALLBACK", BOT_TOPIC, new_id, orjson.dumps(item.data).decode())

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        issued = self._tickets.pop(ticket, None)
        if issued is None or time.monotonic() - issued > self.ticket_ttl:
            return _error(401, "invalidTicket", "ticket is invalid or used")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Connection(ticket, ws, request, time.monotonic())
        self.connections.append(conn)
        try:
            async for message in ws:
                if conn.frozen:
                    continue
                if message.type == aiohttp.WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    self._on_ack(message.data)
        finally:
            conn.closed = True
        return ws

    def _on_ack(self, raw: str) -> None:
        try:
            ack = orjson.loads(raw)
            headers = ack["headers"]
            record = Ack(
                str(headers["messageId"]),
                int(ack["code"]),
                str(ack.get("message", "")),
                ack["data"],
            )
            orjson.loads(record.data)  # data is itself a JSON string
            if headers.get("contentType") != "application/json" or not isinstance(ack["data"], str):
                raise ValueError("bad ack shape")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.bad_acks.append(raw)
            return
        if record.message_id.startswith("ping-"):
            self.pongs.append(record)
        elif record.message_id.startswith("disc-"):
            return
        else:
            self.acks.append(record)
            if record.code == 200:
                self.pending.pop(record.message_id, None)
