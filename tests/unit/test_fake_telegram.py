"""The Telegram fake, checked against python-telegram-bot (PTB) as an independent client.

The Telegram channel's tests trust this fake; if PTB — which parses the real Bot API every day —
reads the fake's answers (envelopes, errors, Updates, Messages with UTF-16 entity offsets) the way
it reads Telegram's, code tested against the fake will also work against the real service.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.helpers import escape_markdown

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_api import (
    CONFLICT_OTHER_POLL,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
    Drop,
    Fail,
    FakeTelegram,
    Hang,
    utf16_len,
)

TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "gw_test_bot"
SUPERGROUP = -1001234567890


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(
        TOKEN, username=BOT_USERNAME, webhook_retry_delays=(0.02, 0.02)
    ) as fake:
        yield fake


def ptb(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    # PTB appends the token to base_url, so base_url ends in "/bot".
    return Bot(token, base_url=f"{fake.base_url}/bot")


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with ptb(tg) as client:
        yield client


def last_description(fake: FakeTelegram) -> str:
    """The exact description the fake put on the wire for the latest call."""
    response = fake.requests[-1].response
    assert isinstance(response, dict) and response["ok"] is False
    return str(response["description"])


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class Receiver:
    """A webhook endpoint: answers the scripted statuses (then 200) and records every POST."""

    def __init__(self, *statuses: int, reply: Any = None) -> None:
        self.statuses = deque(statuses)
        self.reply = reply
        self.got: list[tuple[dict[str, str], Any]] = []
        self.answered: list[int] = []
        self.url = ""
        self._server = LoopbackServer()

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/telegram/webhook", self._handle)
        self.url = await self._server.start(app) + "/telegram/webhook"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), orjson.loads(await request.read())))
        status = self.statuses.popleft() if self.statuses else 200
        self.answered.append(status)
        if status == 200 and self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(status=status)


# --------------------------------------------------------------------------- identity, auth


async def test_get_me_is_what_ptb_initialises_with(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, BOT_USERNAME, True)
    assert me.can_read_all_group_messages is False  # privacy mode on, Telegram's default
    assert bot.username == BOT_USERNAME  # PTB's initialize() called getMe
    assert [c.method for c in tg.requests] == ["getMe", "getMe"]


async def test_wrong_or_malformed_token_and_unknown_method(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with ptb(tg, "999:WRONG-TOKEN"):
            pass
    assert tg.requests[-1].status == 401
    assert tg.requests[-1].response == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }
    with pytest.raises(InvalidToken):
        async with ptb(tg, "not-a-token"):
            pass
    assert tg.requests[-1].response == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert tg.requests[-1].status == 404


async def test_raw_json_form_and_get_bodies(tg: FakeTelegram) -> None:
    """Our own channel speaks JSON; PTB speaks form bodies; Telegram takes both, and GET."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{tg.bot_url}/sendMessage",
            json={"chat_id": "42", "text": "json", "reply_markup": '{"inline_keyboard": []}'},
        ) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["ok"] is True
            assert body["result"]["text"] == "json" and body["result"]["chat"]["id"] == 42
        async with http.post(
            f"{tg.bot_url}/SENDMESSAGE", data={"chat_id": "42", "text": "form"}
        ) as resp:
            assert (await resp.json())["result"]["message_id"] == 2  # names are case-blind
        async with http.get(f"{tg.bot_url}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == BOT_USERNAME
        async with http.get(f"{tg.bot_url}/sendMessage", params={"chat_id": 42}) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
        async with http.post(f"{tg.bot_url}/sendMessage", json={"text": "x"}) as resp:
            assert (await resp.json())["description"] == "Bad Request: chat_id is empty"
    assert [p["chat_id"] for p in tg.calls("sendMessage")[:2]] == [42, 42]
    assert tg.calls("sendMessage")[0]["reply_markup"] == {"inline_keyboard": []}
    assert [m["text"] for m in tg.sent_to(42)] == ["json", "form"]


# --------------------------------------------------------------------------- sendMessage


async def test_send_plain_message(tg: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(42, "hello")
    assert msg.text == "hello" and msg.chat.id == 42 and msg.chat.type == "private"
    assert msg.from_user is not None and msg.from_user.id == bot.id
    assert msg.date.timestamp() == pytest.approx(time.time(), abs=5)
    again = await bot.send_message(42, "again")
    assert again.message_id == msg.message_id + 1
    assert tg.requests[-1].content_type == "application/x-www-form-urlencoded"
    assert tg.calls("sendMessage")[0] == {"chat_id": 42, "text": "hello"}
    assert tg.texts(42) == ["hello", "again"]


async def test_html_entities_round_trip_through_ptb(tg: FakeTelegram, bot: Bot) -> None:
    """PTB rebuilds HTML from our entities; equality proves UTF-16 offsets and lengths."""
    html = (
        "😀 <b>粗体</b> &lt;tag&gt; &amp; <i>it</i> "
        '<a href="https://example.com/x">link</a> <s>gone</s>'
    )
    msg = await bot.send_message(42, html, parse_mode="HTML")
    assert msg.text == "😀 粗体 <tag> & it link gone"
    assert msg.text_html == html
    bold = msg.entities[0]
    assert (bold.type, bold.offset, bold.length) == (MessageEntity.BOLD, 3, 2)  # 😀 = 2 units

    code = await bot.send_message(
        42, '<pre><code class="language-python">print(1)</code></pre>', parse_mode="HTML"
    )
    assert code.text == "print(1)"
    assert [(e.type, e.language) for e in code.entities] == [(MessageEntity.PRE, "python")]


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="big">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    tg: FakeTelegram, bot: Bot, html: str, detail: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(42, html, parse_mode="HTML")
    assert "can't parse entities" in caught.value.message.lower()
    assert last_description(tg) == "Bad Request: can't parse entities: " + detail
    assert tg.sent == []


async def test_markdown_v2_with_ptb_escaping_as_oracle(tg: FakeTelegram, bot: Bot) -> None:
    raw = r"Price: 5.00 (50% off!) see_docs #1 [link] a_b*c `code` \ end."  # vector T1
    msg = await bot.send_message(42, escape_markdown(raw, version=2), parse_mode="MarkdownV2")
    assert msg.text == raw and msg.entities == ()

    md = "*bold* _it_ __under__ ~gone~ ||secret|| [x](https://e.com/) `c`"
    msg = await bot.send_message(42, md, parse_mode="MarkdownV2")
    assert msg.text_markdown_v2 == md

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(42, "costs 5.00", parse_mode="MarkdownV2")
    assert last_description(tg) == (
        "Bad Request: can't parse entities: Character '.' is "
        "reserved and must be escaped with the preceding '\\'"
    )
    with pytest.raises(BadRequest):
        await bot.send_message(42, "*open", parse_mode="MarkdownV2")
    assert last_description(tg).endswith("Can't find end of Bold entity at byte offset 0")
    with pytest.raises(BadRequest):
        await bot.send_message(42, "x", parse_mode="Markdown3")
    assert last_description(tg) == "Bad Request: unsupported parse_mode"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("中" * 4096, True),  # BMP: one UTF-16 unit each
        ("中" * 4097, False),
        ("😀" * 2048, True),  # astral: two units each, 4096 in all
        ("😀" * 2049, False),
        ("😀" * 4096, False),  # 4096 characters but 8192 units
    ],
)
async def test_length_limit_counts_utf16_units(
    tg: FakeTelegram, bot: Bot, text: str, ok: bool
) -> None:
    if ok:
        msg = await bot.send_message(42, text)
        assert msg.text == text and utf16_len(msg.text) <= 4096
    else:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(42, text)
        assert last_description(tg) == "Bad Request: message is too long"


async def test_length_is_counted_after_entity_parsing_and_trim(bot: Bot) -> None:
    msg = await bot.send_message(42, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert msg.text is not None and len(msg.text) == 4096
    msg = await bot.send_message(42, "\n  " + "b" * 4096 + "  \n")
    assert msg.text == "b" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(42, "<b></b> \n", parse_mode="HTML")


async def test_reply_parameters_and_forum_topics(tg: FakeTelegram, bot: Bot) -> None:
    asked = tg.user_message(SUPERGROUP, "question", message_thread_id=5)["message"]
    msg = await bot.send_message(
        SUPERGROUP,
        "answer",
        message_thread_id=5,
        reply_parameters=ReplyParameters(message_id=asked["message_id"]),
    )
    assert msg.reply_to_message is not None
    assert msg.reply_to_message.message_id == asked["message_id"]
    assert msg.reply_to_message.text == "question"
    assert (msg.message_thread_id, msg.is_topic_message) == (5, True)
    assert msg.message_id == asked["message_id"] + 1  # one id sequence per chat
    assert tg.calls("sendMessage")[-1] == {  # what PTB put on the wire (vector T2)
        "chat_id": SUPERGROUP,
        "text": "answer",
        "message_thread_id": 5,
        "reply_parameters": {"message_id": asked["message_id"]},
    }

    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(SUPERGROUP, "x", message_thread_id=6)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(SUPERGROUP, "x", reply_to_message_id=999)
    lenient = await bot.send_message(
        SUPERGROUP,
        "x",
        reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True),
    )
    assert lenient.reply_to_message is None


# --------------------------------------------------------------------------- edits and others


async def test_inline_buttons_and_callback_queries_through_ptb(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="rate:1:abc")]])
    msg = await bot.send_message(42, "rate me", reply_markup=keyboard)
    assert msg.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            42,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("long", callback_data="x" * 65)]]
            ),
        )
    with pytest.raises(ValueError, match="no button"):
        tg.press_button(42, msg.message_id, "rate:-1:abc")

    tg.press_button(42, msg.message_id, "rate:1:abc")
    (update,) = await bot.get_updates(timeout=1, allowed_updates=["message", "callback_query"])
    query = update.callback_query
    assert query is not None and query.data == "rate:1:abc" and query.from_user.id == 42
    assert query.message is not None and query.message.message_id == msg.message_id
    assert await bot.answer_callback_query(query.id, text="Thanks!")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id, text="twice")
    assert [a["text"] for a in tg.callback_answers] == ["Thanks!"]


async def test_edit_message_text(tg: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(42, "draft")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("draft", chat_id=42, message_id=msg.message_id)
    assert last_description(tg).startswith("Bad Request: message is not modified: ")
    edited = await bot.edit_message_text("final", chat_id=42, message_id=msg.message_id)
    assert isinstance(edited, type(msg)) and edited.text == "final"
    assert edited.edit_date is not None
    bolder = await bot.edit_message_text(
        "<b>final</b>", chat_id=42, message_id=msg.message_id, parse_mode="HTML"
    )
    assert not isinstance(bolder, bool) and bolder.text_html == "<b>final</b>"  # entities count
    assert tg.texts(42) == ["final"] and len(tg.edits) == 2
    assert tg.sent[0]["text"] == "draft"  # `sent` keeps what was sent
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)
    user_msg = tg.user_message(42, "mine")["message"]
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=42, message_id=user_msg["message_id"])


async def test_chat_action_and_delete(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.send_chat_action(42, "typing") is True
    assert await bot.send_chat_action(42, "typing", message_thread_id=3) is True
    first, second = tg.chat_actions
    assert (first.chat_id, first.action, second.message_thread_id) == (42, "typing", 3)
    assert second.at >= first.at
    with pytest.raises(BadRequest):
        await bot.send_chat_action(42, "dancing")

    msg = await bot.send_message(42, "bye")
    assert await bot.delete_message(42, msg.message_id) is True
    assert tg.texts(42) == [] and tg.deleted == [(42, msg.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(42, msg.message_id)


# --------------------------------------------------------------------------- scripted failures


async def test_scripted_flood_control_raises_retry_after(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else PTB 22 warns about an int retry_after
    tg.script("sendMessage", Fail.flood(retry_after=7))
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "hi")
    assert seconds(caught.value.retry_after) == 7
    assert tg.requests[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert tg.sent == []
    assert (await bot.send_message(42, "hi")).text == "hi"  # the script is used up


async def test_scripted_forbidden_migrated_and_bad_gateway(tg: FakeTelegram, bot: Bot) -> None:
    tg.script("sendMessage", 403, Fail.migrated(-1001234), 502, Fail.bad_gateway(html=True))
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(42, "x")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-555, "x")
    assert migrated.value.new_chat_id == -1001234
    assert last_description(tg) == "Bad Request: group chat was upgraded to a supergroup chat"
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "x")
    # nginx's HTML page: PTB cannot parse it either (a NetworkError in 22.8, a bare
    # TelegramError in 22.1; both are in the declared range)
    with pytest.raises(TelegramError):
        await bot.send_message(42, "x")
    assert tg.sent == []


async def test_stateful_block_and_migration(tg: FakeTelegram, bot: Bot) -> None:
    tg.blocked_chats.add(42)
    tg.migrated_chats[-555] = -1000000000555
    with pytest.raises(Forbidden):
        await bot.send_chat_action(42, "typing")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-555, "x")
    assert migrated.value.new_chat_id == -1000000000555
    assert (await bot.send_message(-1000000000555, "x")).chat.type == "supergroup"


async def test_scripted_hang_and_drop(tg: FakeTelegram) -> None:
    tg.script("getMe", Hang(0.2), Drop())
    async with ptb(tg) as client:  # initialize() takes the hang
        with pytest.raises(NetworkError):
            await client.get_me()
        assert (await client.get_me()).username == BOT_USERNAME
    tg.script("getMe", Hang(0.5))
    client = ptb(tg)
    with pytest.raises(TimedOut):
        await client.get_me(read_timeout=0.2)
    await client.shutdown()


# --------------------------------------------------------------------------- getUpdates


async def test_get_updates_offset_semantics(tg: FakeTelegram, bot: Bot) -> None:
    ids = [tg.user_message(42, text)["update_id"] for text in ("one", "two", "three")]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]

    first = await bot.get_updates()
    assert [u.update_id for u in first] == ids
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [ids[1]]
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    assert tg.pending_updates == []

    more = [tg.user_message(42, f"m{i}")["update_id"] for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [more[-1]]
    assert [u["update_id"] for u in tg.pending_updates] == [more[-1]]  # earlier ones forgotten


async def test_allowed_updates_filters_and_is_remembered(tg: FakeTelegram, bot: Bot) -> None:
    message = tg.user_message(42, "hi")["message"]
    edited = tg.edited_user_message(42, message["message_id"], "hi!")
    got = await bot.get_updates(allowed_updates=["edited_message"])
    assert [u.update_id for u in got] == [edited["update_id"]]
    assert got[0].edited_message is not None and got[0].edited_message.text == "hi!"
    tg.user_message(42, "dropped too")
    assert await bot.get_updates(offset=edited["update_id"] + 1) == ()  # setting kept


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: tg.calls("getUpdates"))
    await asyncio.sleep(0.05)
    assert not poll.done()
    pushed = tg.user_message(42, "wake up")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert time.monotonic() - started < 2


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_second_poller_terminates_the_first(tg: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: tg.calls("getUpdates"))
    async with ptb(tg) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    assert any(
        c.response and c.response.get("description") == CONFLICT_OTHER_POLL for c in tg.requests
    )


async def test_webhook_and_get_updates_conflict(tg: FakeTelegram, bot: Bot) -> None:
    async with Receiver() as rx:
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await tg.wait_for(lambda: tg.calls("getUpdates"))
        assert await bot.set_webhook(rx.url) is True
        with pytest.raises(Conflict, match="terminated by setWebhook request"):
            await asyncio.wait_for(waiting, 2)
        assert tg.requests[-2].response["description"] == CONFLICT_SET_WEBHOOK

        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert last_description(tg) == CONFLICT_WEBHOOK_ACTIVE
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count, info.max_connections) == (rx.url, 0, 40)

        assert await bot.delete_webhook() is True
        assert tg.requests[-1].response["description"] == "Webhook was deleted"
        pushed = tg.user_message(42, "polled again")
        assert [u.update_id for u in await bot.get_updates()] == [pushed["update_id"]]
        assert rx.got == []


# --------------------------------------------------------------------------- webhook delivery


async def test_webhook_delivery_with_secret_and_redelivery_after_500(
    tg: FakeTelegram, bot: Bot
) -> None:
    async with Receiver(500) as rx:
        assert await bot.set_webhook(rx.url, secret_token="s3cr3t-Token_1")
        pushed = tg.user_message(-4002, f"@{BOT_USERNAME} hi", user_id=777)
        await tg.wait_delivered()
    assert rx.answered == [500, 200]
    assert [h["X-Telegram-Bot-Api-Secret-Token"] for h, _ in rx.got] == ["s3cr3t-Token_1"] * 2
    assert [body for _, body in rx.got] == [pushed, pushed]  # same update, same update_id
    assert [(d.attempt, d.status) for d in tg.deliveries] == [(1, 500), (2, 200)]

    update = Update.de_json(rx.got[-1][1], bot)
    assert update is not None and update.message is not None
    assert update.message.chat.type == "group"
    assert update.message.parse_entities() == {
        MessageEntity(type="mention", offset=0, length=12): "@gw_test_bot"
    }
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_webhook_gives_up_after_the_last_retry(tg: FakeTelegram, bot: Bot) -> None:
    async with Receiver(500, 502, 503, 500) as rx:
        await bot.set_webhook(rx.url)
        pushed = tg.user_message(42, "doomed")
        await tg.wait_delivered()
        assert rx.answered == [500, 502, 503]  # 1 try + 2 retries (webhook_retry_delays)
        assert tg.dropped_updates == [pushed]
        follow = tg.user_message(42, "next one")
        await tg.wait_delivered()
    assert rx.answered == [500, 502, 503, 500, 200]  # the next update starts afresh
    assert [body for _, body in rx.got[-2:]] == [follow, follow]
    assert tg.dropped_updates == [pushed]
    assert [(d.attempt, d.status) for d in tg.deliveries[-2:]] == [(1, 500), (2, 200)]


async def test_webhook_reply_may_carry_a_method_call(tg: FakeTelegram, bot: Bot) -> None:
    reply = {"method": "sendMessage", "chat_id": 42, "text": "pong"}
    async with Receiver(reply=reply) as rx:
        await bot.set_webhook(rx.url)
        tg.user_message(42, "ping")
        await tg.wait_sent(1, chat_id=42)
    assert tg.sent[0]["text"] == "pong"
    assert tg.requests[-1].http_method == "WEBHOOK-REPLY"


async def test_set_webhook_validation(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/x", secret_token="not ok!")
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("ftp://127.0.0.1/x")
    async with FakeTelegram(TOKEN, strict_webhook_url=True) as strict, ptb(strict) as client:
        with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
            await client.set_webhook("http://bot.example.com/hook")
        with pytest.raises(BadRequest, match=r"(?i)ports 80, 88, 443 or 8443"):
            await client.set_webhook("https://bot.example.com:9443/hook")
        assert await client.set_webhook("https://bot.example.com:8443/hook")


# --------------------------------------------------------------------------- fake updates


async def test_user_message_updates_parse_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    """Vector T2's update, built by the fake, with a UTF-16 offset in front of the command."""
    sent = await bot.send_message(SUPERGROUP, "earlier answer")
    tg.user_message(
        SUPERGROUP, f"😀 /ask@{BOT_USERNAME} what is 2+2", message_thread_id=5, reply_to_bot=True
    )
    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None and message.from_user is not None
    assert (message.chat.id, message.chat.type, message.chat.is_forum) == (
        SUPERGROUP,
        "supergroup",
        True,
    )
    assert (message.message_thread_id, message.is_topic_message) == (5, True)
    assert message.from_user.id == 777 and not message.from_user.is_bot
    assert message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        MessageEntity(type="bot_command", offset=3, length=16): "/ask@gw_test_bot"
    }
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == sent.message_id
    assert message.reply_to_message.from_user is not None
    assert message.reply_to_message.from_user.id == bot.id

    private = tg.user_message(42, "/start")["message"]
    assert private["from"]["id"] == private["chat"]["id"] == 42
    assert private["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
