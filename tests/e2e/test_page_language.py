"""The chat page in the browser's language: zh-CN and en by Accept-Language, its words and the
gateway's own replies; in Chinese no English sentence of the catalog is left on the page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import OpenPage
from tests.support.page_words import catalog_english, read_words


@pytest.mark.parametrize(
    ("locale", "empty_title", "placeholder", "help_heading"),
    [
        ("zh-CN", "有什么可以帮你？", "给 ai-bot 发消息…", "可用命令："),
        ("en-US", "What can I help with?", "Message ai-bot…", "Commands:"),
    ],
)
async def test_the_page_and_its_replies_follow_accept_language(
    gateway_factory: Any,
    open_page: OpenPage,
    locale: str,
    empty_title: str,
    placeholder: str,
    help_heading: str,
) -> None:
    gw = await gateway_factory()
    probe = await open_page(locale=locale)
    page = probe.page
    await page.goto(gw.url)
    await page.wait_for_selector("body[data-conn=ready]")
    assert await page.get_attribute("html", "lang") == locale.split("-US")[0]
    assert (await page.inner_text(".empty-title")).strip() == empty_title
    assert await page.get_attribute("#input", "placeholder") == placeholder

    await page.locator("#input").fill("/help")
    await page.locator("#input").press("Enter")
    answer = page.locator(".msg.assistant[data-state=done] .bubble").first
    await answer.wait_for()
    assert (await answer.inner_text()).strip().startswith(help_heading)

    if locale == "zh-CN":
        left = catalog_english(await read_words(page))
        assert not left, f"English left on the Chinese page: {left}"
