"""Chat commands answer in the chat's language: the sender's locale under `ui.language: auto`,
else the default (zh-CN); a configured language wins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from aibot import i18n
from aibot.core.commands import Commands, ModelCatalog
from aibot.core.feedback import Feedback
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.sessions import SessionMemory


@pytest.fixture(autouse=True)
def _auto() -> Iterator[None]:
    i18n.configure("auto", "zh-CN")
    yield
    i18n.configure("auto", "zh-CN")


def commands() -> Commands:
    catalog = ModelCatalog(["glm"], lambda: "glm", {"glm": "glm-4.6"})
    # /help and /model without a session touch neither the memory nor the feedback store.
    return Commands(cast(SessionMemory, None), catalog, lambda: "", cast(Feedback, None))


async def run(name: str, locale: str | None) -> str:
    inbound = Inbound("telegram", "k", "u", f"/{name}", "r", 0.0, target=ReplyTarget(locale=locale))
    command = commands().find(name)
    assert command is not None
    return await command.handler(TurnContext(inbound, 0.0), "")


async def test_help_follows_the_senders_locale() -> None:
    english = await run("help", "en-US")
    assert english.startswith("Commands:") and "/reset — start a new conversation" in english
    chinese = await run("help", "zh-CN")
    assert chinese.startswith("可用命令：") and "/reset — 开始新的对话" in chinese
    assert await run("help", None) == chinese  # no locale: ui.default_language


async def test_a_configured_language_wins() -> None:
    i18n.configure("en", "zh-CN")
    assert (await run("model", "zh-CN")).startswith("Current model: glm (glm-4.6)")
    i18n.configure("auto", "en")
    assert (await run("model", "fr")).startswith("Current model")
    assert (await run("model", "zh")).startswith("当前模型：glm (glm-4.6)")
