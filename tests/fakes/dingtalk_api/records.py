"""DingTalk's test credentials and limits, and what the fake records: connections, acks, sends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "dingtestrobot0001xyz"
CLIENT_SECRET = "TestClientSecret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
BOT_TOPIC = "/v1.0/im/bot/messages/get"
# The session webhook's answer once it expired; DingTalk's exact errcode is not documented [?].
WEBHOOK_EXPIRED = {"errcode": 300001, "errmsg": "session不存在或者已经过期"}
MSG_PARAM_LIMIT = 15_000  # bytes of msgParam refused as invalidParameter.msgParam.tooLong [3P]


def _error(status: int, code: str, message: str) -> web.Response:
    """The new OpenAPI's error shape: {requestid, code, message}."""
    return web.json_response(
        {"requestid": uuid.uuid4().hex.upper(), "code": code, "message": message}, status=status
    )


@dataclass
class Connection:
    ticket: str
    ws: web.WebSocketResponse
    request: web.Request
    opened_at: float
    frozen: bool = False
    closed: bool = False


@dataclass
class Pending:
    data: dict[str, Any]
    message_id: str
    deadline: float
    deliveries: int = 1


@dataclass(frozen=True)
class Ack:
    message_id: str
    code: int
    message: str
    data: str


@dataclass(frozen=True)
class Sent:
    """One message the robot sent: `via` is webhook, group or private."""

    via: str
    to: str
    msgtype: str
    text: str
    title: str | None = None
    at: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # an ActionCard's (title, URL)
