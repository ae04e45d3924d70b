"""The Telegram fake with PTB as its independent client: scripted and stateful failures.

The Telegram channel's tests trust this fake; if PTB — which parses the real Bot API every day —
reads the fake's answers (envelopes, errors, Updates, Messages with UTF-16 entity offsets) the way
it reads Telegram's, code tested against the fake will also work against the real service.
"""

from __future__ import annotations

import pytest
from telegram import (
    Bot,
)
from telegram.error import (
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from tests.fakes.telegram_api import (
    Drop,
    Fail,
    FakeTelegram,
    Hang,
)
from tests.support.ptb_oracle import (
    BOT_USERNAME,
    last_description,
    ptb,
    seconds,
)

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
