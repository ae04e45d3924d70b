"""A fake Telegram Bot API server on loopback.

Why a fake: the Telegram channel must be tested over real sockets against the real wire format
(envelopes, error descriptions, long polling, webhook pushes with re-delivery), quickly and
without touching api.telegram.org. python-telegram-bot (PTB) is the independent client that keeps
this fake honest (``tests/unit/test_fake_telegram*.py``); the entity parsers are ports of TDLib's
``parse_html`` / ``parse_markdown_v2`` / ``parse_markdown`` (td/telegram/MessageEntity.cpp), which
is what the Bot API server runs, so error texts and byte offsets match the real ones.

Use it in tests::

    async with FakeTelegram(token="123456:TEST-TOKEN", username="gw_test_bot") as tg:
        # point the code under test at tg.base_url (its ``api_base``)
        tg.user_message(42, "/ask@gw_test_bot hi")           # queue an update
        tg.script("sendMessage", Fail.flood(retry_after=3))   # next sendMessage gets a 429
        sent = await tg.wait_sent(1, chat_id=42)
        assert sent[0]["text"] == "..."

What it serves (``GET`` or ``POST``, JSON, form-encoded or multipart bodies, method names
case-insensitive, as Telegram): getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
sendMessage, editMessageText, editMessageReplyMarkup, sendChatAction, deleteMessage,
sendMessageDraft (``drafts=True``), setMyCommands, getMyCommands, deleteMyCommands; more with
``register``.

Known simplifications (real Telegram does more): webhook deliveries are sequential (one in flight,
in update order) whatever ``max_connections`` says; sent messages carry only the entities that
came from ``parse_mode``/``entities`` (Telegram also auto-detects urls, mentions, hashtags, ...);
links in ``<a href>`` are kept as given (Telegram normalises them); no flood control unless
scripted; ``timeout`` of getUpdates may be fractional (handy for fast tests); and deliveries only
ever go to loopback hosts, whatever URL a test sets.

The modules, one job each: ``protocol`` (Telegram's error texts and formats), ``scripting``
(Fail/Hang/Drop), ``records`` (what tests read), ``entities``/``html_entities``/
``markdown_entities`` (the TDLib ports), ``params`` (typed parameters, envelopes), and the server
in layers: ``core`` (HTTP, dispatch) → ``chats`` → ``updates`` (queue, getUpdates) → ``webhook``
→ ``bot_methods`` (sendMessage …) → ``server`` (``FakeTelegram``, inspection and waiting).
"""

from tests.fakes.telegram_api.entities import EntityParseError, find_entities, utf16_len
from tests.fakes.telegram_api.html_entities import parse_html
from tests.fakes.telegram_api.markdown_entities import parse_markdown, parse_markdown_v2
from tests.fakes.telegram_api.protocol import (
    CONFLICT_OTHER_POLL,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
    ApiError,
)
from tests.fakes.telegram_api.records import ApiCall, ChatAction, Delivery
from tests.fakes.telegram_api.scripting import Drop, Fail, Hang
from tests.fakes.telegram_api.server import FakeTelegram

__all__ = [
    "CONFLICT_OTHER_POLL",
    "CONFLICT_SET_WEBHOOK",
    "CONFLICT_WEBHOOK_ACTIVE",
    "ApiCall",
    "ApiError",
    "ChatAction",
    "Delivery",
    "Drop",
    "EntityParseError",
    "Fail",
    "FakeTelegram",
    "Hang",
    "find_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]
