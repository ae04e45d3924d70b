"""A fake WeCom (企业微信) on loopback: the API a self-built app calls, and WeCom's callbacks.

Why a fake: the channel must be tested over real sockets against WeCom's wire format and error
codes, quickly and without qyapi.weixin.qq.com. The callback side encrypts and signs with
wechatpy (``PrpCrypto``, ``WeChatSigner``), an implementation independent of ours, so a
passing test means our crypto speaks WeCom's, not merely agrees with itself.

Use it in tests::

    async with FakeWecom() as wecom:
        # point channels.wecom.api_base at wecom.base_url
        deliveries = await wecom.push(url, wecom.text_xml("zhangsan", "你好"))
        sent = await wecom.wait_sent(1)
        wecom.script(45009)                 # the next message/send answers 45009

What it serves (always HTTP 200 with ``errcode``/``errmsg``, like WeCom):
- ``GET /cgi-bin/gettoken?corpid&corpsecret``: 40013 for an unknown corp id, 40091 for a secret
  that is not 43 characters [?: the exact split between 40001 and 40091 is not documented],
  40001 for a wrong one; the same token again while it is valid, as WeCom does.
- ``POST /cgi-bin/message/send?access_token``: 41001 without a token, 40014 for an unknown or
  revoked one, 42001 for an expired one; 60020 from an IP outside ``trusted_ips``; 301002 for
  another app's agentid; 40008 for an unknown msgtype; 44004 for empty content; ``invaliduser``
  for unknown members and 81013 when none is valid. Content over 2048 bytes is truncated and
  more than 30 messages a minute to one member are dropped, both silently (``truncated``,
  ``dropped``), as WeCom does.
- ``GET /cgi-bin/agent/get?access_token&agentid``: the app's details; 301002 and 60020 as above.
- ``message/send`` with ``msgtype: template_card`` of ``card_type: button_interaction``: a
  ``main_title.title`` or ``sub_title_text``, 1 to 6 buttons each with ``text`` and a ``key`` of
  at most 1024 bytes, distinct; a ``task_id`` of at most 128 bytes of letters, digits and
  ``_-@``, unique within the app (the errcode for a repeated one is not documented [?]: 40058
  here, WeCom's "invalid parameter"); the answer carries a ``response_code``. ``press()`` is the
  member tapping a button: a ``template_card_event`` callback (``EventKey`` = the button's key,
  ``TaskId``, ``CardType``, a new one-time ``ResponseCode``), pushed like any callback.
- ``POST /cgi-bin/message/update_template_card``: ``response_code`` (each usable once, 72 h)
  and ``button.replace_name`` turn the card's buttons into that grey, unclickable label.

The callback pusher signs and encrypts, POSTs with a 5 s timeout and tries 3 times in all on a
timeout or a non-200, as WeCom does; an empty 200 ends it. The spacing between tries is not
documented [?]; it is ``retry_gap`` here.

The modules: ``protocol`` (credentials, limits, records, card checks), and the fake in layers:
``tenant`` (state, tokens, scripting and reading) → ``callbacks`` (pushes to the gateway) →
``server`` (``FakeWecom``: lifecycle and the API).
"""

from tests.fakes.wecom_api.protocol import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    INVALID_PARAMETER,
    MAX_CONTENT_BYTES,
    SECRET,
    TOKEN,
    Delivery,
    Sent,
)
from tests.fakes.wecom_api.server import FakeWecom

__all__ = [
    "AES_KEY",
    "AGENT_ID",
    "CORP_ID",
    "INVALID_PARAMETER",
    "MAX_CONTENT_BYTES",
    "SECRET",
    "TOKEN",
    "Delivery",
    "FakeWecom",
    "Sent",
]
