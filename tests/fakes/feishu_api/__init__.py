"""A fake Feishu/Lark open platform on loopback: tokens, messages, and an event pusher.

Why a fake: the Feishu channel must be tested over real sockets against the real wire format
(double-encoded `content`, body `code`s, encrypted and signed event pushes with re-delivery)
without touching open.feishu.cn. lark-oapi is the oracle that keeps it honest
(`tests/unit/test_feishu_crypto.py`: its decryptor reads our events, its dispatcher accepts what
this fake pushes). Facts are from PROTOCOLS.md §1; values marked [?] there are guesses made
configurable here.

What it serves:
- `POST /open-apis/auth/v3/tenant_access_token/internal`: `expire` in seconds; the same token
  while more than 30 min remain, a new one below that; `revoke_tokens()` makes the next call
  answer 99991663.
- `GET /open-apis/bot/v3/info`; `POST /callback/ws/endpoint` (long-connection bootstrap: refuses
  wrong credentials with 403; the pbbp2 WebSocket behind it is not faked).
- `POST /open-apis/im/v1/messages?receive_id_type=…`, `POST …/{id}/reply`, `PUT …/{id}`
  (text/post, at most 20 edits), `PATCH …/{id}` (interactive only), `DELETE …/{id}` (recall).
  `content` must be a JSON string valid for `msg_type` (230001; a bad card 230099); bodies over
  150 KB (text) / 30 KB (post, card) get 230025; more than `qps` calls per chat in one second get
  HTTP 429 + 99991400 + `x-ogw-ratelimit-reset`; a `uuid` seen within 1 h returns the first
  answer and sends nothing.
- The event pusher POSTs v2 envelopes to `webhook_url` (encrypted and signed when an Encrypt Key
  is set), waits at most `deadline` (3 s) for a 200, and re-delivers on `retry_schedule`.
- A card button press (`card_action`) is a `card.action.trigger` callback POSTed once (no
  re-delivery: a callback is answered within 3 s or fails) to the same URL, signed like events;
  the answer's toast is returned and its `raw` card redraws the pressed card, as the client
  does (the new callback's response shape: `{"toast": {type, content, i18n}, "card": {"type":
  "raw", "data": <card>}}`, lark-oapi `P2CardActionTriggerResponse`).

Simplifications: one tenant; every chat accepts the bot; no per-app (50/s) limit; the recall
window and edit window are unlimited.

The modules: ``protocol`` (limits, error codes), ``records`` (what tests script and read),
``content`` (message bodies checked per type), and the fake in layers: ``tenant`` (state, tokens,
inspection) → ``events`` (pushes to the gateway) → ``server`` (``FakeFeishu``, the HTTP routes).
"""

from tests.fakes.feishu_api.records import Call, Delivery, Fail, LoseResponse, Message, Rejection
from tests.fakes.feishu_api.server import FakeFeishu

__all__ = ["Call", "Delivery", "Fail", "FakeFeishu", "LoseResponse", "Message", "Rejection"]
