"""The Telegram fake with PTB as its independent client: getUpdates, webhooks, fake updates.

The Telegram channel's tests trust this fake; if PTB — which parses the real Bot API every day —
reads the fake's answers (envelopes, errors, Updates, Messages with UTF-16 entity offsets) the way
it reads Telegram's, code tested against the fake will also work against the real service.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import (
    Bot,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
)

from tests.fakes.telegram_api import (
    CONFLICT_OTHER_POLL,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
    FakeTelegram,
)
from tests.support.ptb_oracle import (
    BOT_USERNAME,
    SUPERGROUP,
    TOKEN,
    Receiver,
    last_description,
    ptb,
)

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
