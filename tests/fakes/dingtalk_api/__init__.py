"""A faithful fake of DingTalk for the robot channel, on loopback (PROTOCOLS §4).

- `POST /v1.0/oauth2/accessToken` (400 `invalidClientIdOrSecret` for a wrong pair),
- `POST /v1.0/gateway/connections/open` (401 `authFailed`; one-time tickets valid 90 s),
- a WebSocket gateway at `/connect?ticket=…` that pushes CALLBACK frames and SYSTEM pings,
  records acks, sends `disconnect` (closing the socket a moment later), drops or freezes
  connections, and pushes a frame again when its ack does not come within `ack_timeout`,
- session webhooks (`/robot/sendBySession?session=…`) that refuse after their expiry,
- the robot send APIs (`groupMessages/send`, `oToMessages/batchSend`) behind
  `x-acs-dingtalk-access-token`, recording what was sent.
- ActionCards (session webhook `msgtype: actionCard` with `btns`; robot API `sampleActionCard2`)
  and `press()`: a button whose `actionURL` is `dtmd://dingtalkclient/sendMessage?content=…`
  makes the client send `content` as the user's own message in that chat (pushed like any
  message); any other link would only open a page, so pressing it does nothing here.

Frames and acks follow the shapes the official `dingtalk-stream` SDK produces and parses
(tests/unit/test_dingtalk_fake.py runs the SDK against this fake).

The modules: ``records`` (credentials, limits, what is recorded), and the fake in layers:
``stream`` (state, the WebSocket gateway) → ``openapi`` (tokens, tickets, sends) → ``server``
(``FakeDingtalk``: lifecycle and what tests do).
"""

from tests.fakes.dingtalk_api.records import (
    BOT_TOPIC,
    CLIENT_ID,
    CLIENT_SECRET,
    MSG_PARAM_LIMIT,
    WEBHOOK_EXPIRED,
    Ack,
    Connection,
    Pending,
    Sent,
)
from tests.fakes.dingtalk_api.server import FakeDingtalk

__all__ = [
    "BOT_TOPIC",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "MSG_PARAM_LIMIT",
    "WEBHOOK_EXPIRED",
    "Ack",
    "Connection",
    "FakeDingtalk",
    "Pending",
    "Sent",
]
