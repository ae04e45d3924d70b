"""Fixtures shared by unit test files: the Telegram fake with PTB as its client
(tests/unit/test_fake_telegram_*.py); the helpers they share are in tests/support/ptb_oracle.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from tests.fakes.telegram_api import FakeTelegram
from tests.support.ptb_oracle import BOT_USERNAME, TOKEN, ptb


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(
        TOKEN, username=BOT_USERNAME, webhook_retry_delays=(0.02, 0.02)
    ) as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with ptb(tg) as client:
        yield client
