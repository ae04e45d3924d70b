"""The Telegram fake with PTB as its independent client: identity, sendMessage, edits.

The Telegram channel's tests trust this fake; if PTB — which parses the real Bot API every day —
reads the fake's answers (envelopes, errors, Updates, Messages with UTF-16 entity offsets) the way
it reads Telegram's, code tested against the fake will also work against the real service.
"""

from __future__ import annotations

import time

import aiohttp
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    InvalidToken,
)
from telegram.helpers import escape_markdown

from tests.fakes.telegram_api import (
    FakeTelegram,
    utf16_len,
)
from tests.support.ptb_oracle import (
    BOT_USERNAME,
    SUPERGROUP,
    last_description,
    ptb,
)

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
