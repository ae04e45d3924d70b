"""The chat page in the browser's language: zh-CN and en by Accept-Language, its words and the
gateway's own replies; in Chinese no English sentence of the catalog is left on the page."""

from __future__ import annotations

from typing import Any

import pytest

from aibot.i18n.extract import read_catalog
from tests.support.browser import OpenPage

READ_BY_PEOPLE = """() => [document.body.innerText,
  ...[...document.querySelectorAll("[placeholder],[title],[aria-label]")].flatMap(
    (e) => ["placeholder", "title", "aria-label"].map((a) => e.getAttribute(a) || ""))]"""


def english_sentences() -> set[str]:
    """The catalog's English that has a different Chinese: none of it may show in zh-CN."""
    return {
        m.id
        for m in read_catalog("zh-CN")
        if isinstance(m.id, str) and m.string and m.string != m.id and len(m.id) > 3
    }


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
        shown = "\n".join(await page.evaluate(READ_BY_PEOPLE))
        left = sorted(s for s in english_sentences() if s in shown)
        assert not left, f"English left on the Chinese page: {left}"
