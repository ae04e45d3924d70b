"""The web chat page in a real browser against the real gateway (`ai-bot run`) and a fake model.

Set AIBOT_E2E_SCREENSHOTS=/some/dir to keep the desktop and phone screenshots.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.support.browser import DESKTOP, PHONE, BrowserPage, OpenPage

ASSISTANT = ".msg.assistant"
USER = ".msg.user"


class Chat:
    """The chat page, driven the way a person uses it."""

    def __init__(self, probe: BrowserPage, url: str) -> None:
        self.probe = probe
        self.page = probe.page
        self.url = url

    async def open(self) -> Chat:
        await self.page.goto(self.url)
        return self

    async def ready(self) -> None:
        await self.page.wait_for_selector("body[data-conn=ready]")
        await self.page.wait_for_selector("#input:not([disabled])")

    async def send(self, text: str) -> None:
        """Types `text` (newlines via Shift+Enter) and presses Enter; waits for the answer."""
        before = await self.page.locator(f"{ASSISTANT}[data-state=done]").count()
        box = self.page.locator("#input")
        await box.click()
        for i, line in enumerate(text.split("\n")):
            if i:
                await box.press("Shift+Enter")
            await self.page.keyboard.insert_text(line)
        await box.press("Enter")
        await self.page.locator(f"{ASSISTANT}[data-state=done]").nth(before).wait_for()

    async def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in await self.page.locator(f"{selector} .bubble").all_inner_texts()]

    async def storage(self, name: str) -> str | None:
        result: str | None = await self.page.evaluate("n => localStorage.getItem(n)", name)
        return result


async def open_chat(open_page: OpenPage, url: str, **options: Any) -> Chat:
    chat = await Chat(await open_page(**options), url).open()
    await chat.ready()
    return chat


def chat_requests(fake: FakeOpenAI) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/chat/completions")]


def user_messages(fake: FakeOpenAI) -> list[str]:
    """The user turns of the last chat request the model received."""
    last = chat_requests(fake)[-1]
    return [m["content"] for m in last.json["messages"] if m["role"] == "user"]


def keep_screenshot(path: Path) -> None:
    target = os.environ.get("AIBOT_E2E_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


async def test_english_message_streams_and_renders(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    fake_llm.chunk_size, fake_llm.chunk_delay = 3, 0.03
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    assert await chat.page.locator("#empty").is_visible()
    assert "fake-model" in await chat.page.inner_text("#model")
    # Record every state of the answer bubble, to see that it grows while tokens arrive.
    await chat.page.evaluate("""() => {
        window.__snapshots = [];
        new MutationObserver(() => {
            const md = document.querySelector('.msg.assistant .md');
            if (md && !md.querySelector('.typing')) window.__snapshots.push(md.textContent);
        }).observe(document.getElementById('messages'),
                   {childList: true, subtree: true, characterData: true});
    }""")

    await chat.send("Hello there, how is the weather today?")

    final = "echo: Hello there, how is the weather today?"
    assert await chat.texts(USER) == ["Hello there, how is the weather today?"]
    assert await chat.texts(ASSISTANT) == [final]
    snapshots: list[str] = await chat.page.evaluate("window.__snapshots")
    partial = [s.strip() for s in snapshots if s.strip() and s.strip() != final]
    assert partial, f"the answer was not rendered while streaming: {snapshots}"
    assert all(final.startswith(s) for s in partial), partial
    assert not await chat.page.locator("#empty").is_visible()

    # Shift+Enter makes a new line; Enter sends the whole text.
    await chat.send("line one\nline two")
    assert (await chat.texts(USER))[-1] == "line one\nline two"
    assert user_messages(fake_llm)[-1] == "line one\nline two"
    assert await chat.page.locator("#input").input_value() == ""


async def test_chinese_round_trips_and_ime_enter_does_not_send(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    box = chat.page.locator("#input")

    # The Enter that confirms an IME candidate arrives with isComposing set: it must not send.
    await box.click()
    await chat.page.keyboard.insert_text("你好")
    await box.evaluate("""el => el.dispatchEvent(new KeyboardEvent('keydown',
        {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true}))""")
    await asyncio.sleep(0.3)
    assert await chat.page.locator(USER).count() == 0
    assert chat_requests(fake_llm) == []
    await box.fill("")

    await chat.send("你好，世界")

    assert await chat.texts(USER) == ["你好，世界"]
    assert await chat.texts(ASSISTANT) == ["echo: 你好，世界"]
    assert user_messages(fake_llm) == ["你好，世界"]


MARKDOWN_ANSWER = (
    "Here is **bold** text.\n\n"
    "```python\nprint('hi')\n```\n\n"
    "<img src=x onerror=alert(1)>\n\n"
    "[click me](javascript:alert(2)) and https://example.com/docs"
)


async def test_markdown_renders_and_html_stays_text(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    fake_llm.script(Reply(MARKDOWN_ANSWER))

    await chat.send("show me **markdown** <i>please</i>")

    answer = chat.page.locator(f"{ASSISTANT} .md").last
    assert await answer.locator("strong").inner_text() == "bold"
    assert await answer.locator("pre > code").inner_text() == "print('hi')\n"
    # Raw HTML from the model is shown as text, never as an element.
    assert "<img src=x onerror=alert(1)>" in await answer.inner_text()
    assert await chat.page.locator("#messages img").count() == 0
    # javascript: links are not made; plain URLs are, opening safely in a new tab.
    assert await chat.page.locator("#messages a[href^='javascript']").count() == 0
    link = answer.locator("a[href='https://example.com/docs']")
    assert await link.get_attribute("target") == "_blank"
    assert await link.get_attribute("rel") == "noopener noreferrer"
    # The user's own text is never Markdown or HTML.
    user = chat.page.locator(f"{USER} .bubble").last
    assert await user.inner_text() == "show me **markdown** <i>please</i>"
    assert await user.locator("strong, i").count() == 0
    await asyncio.sleep(0.3)
    assert chat.probe.dialogs == []


async def test_history_survives_reload_and_new_conversation_forgets_it(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    await chat.send("first question")
    await chat.send("second question")
    assert user_messages(fake_llm) == ["first question", "second question"]
    first_session = await chat.storage("aibot.session")
    assert first_session

    await chat.page.reload()
    await chat.ready()
    assert await chat.texts(USER) == ["first question", "second question"]
    assert await chat.texts(ASSISTANT) == ["echo: first question", "echo: second question"]
    assert await chat.storage("aibot.session") == first_session

    await chat.page.click("#new-chat")
    await expect(chat.page.locator(".msg")).to_have_count(0)
    await chat.ready()
    assert await chat.page.locator("#empty").is_visible()
    new_session = await chat.storage("aibot.session")
    assert new_session and new_session != first_session

    await chat.send("fresh start")
    assert user_messages(fake_llm) == ["fresh start"]
    await chat.page.reload()
    await chat.ready()
    assert await chat.texts(USER) == ["fresh start"]


async def test_answers_are_rated_with_thumbs_that_come_back_after_a_reload(
    gateway_factory: Any, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    await chat.send("rate me")
    good = chat.page.locator(f"{ASSISTANT} .rate-btn[data-score='1']")
    bad = chat.page.locator(f"{ASSISTANT} .rate-btn[data-score='-1']")
    await good.click()
    await expect(good).to_have_attribute("aria-pressed", "true")
    await expect(bad).to_have_attribute("aria-pressed", "false")
    await bad.click()
    await expect(bad).to_have_attribute("aria-pressed", "true")
    await expect(good).to_have_attribute("aria-pressed", "false")
    assert await chat.texts(ASSISTANT) == ["echo: rate me"]  # the buttons sit outside the text

    await chat.page.reload()
    await chat.ready()
    await expect(chat.page.locator(f"{ASSISTANT} .rate-btn")).to_have_count(2)


async def test_access_key_is_asked_for_and_checked(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory({"channels": {"webchat": {"require_key": True}}})
    chat = await Chat(await open_page(), gw.url).open()
    page = chat.page
    await page.wait_for_selector("#key-overlay:not([hidden])")
    assert "reachable from the network" in await page.inner_text("#key-form")
    assert await page.get_attribute("#key-input", "type") == "password"
    assert await page.is_disabled("#input")
    assert await page.is_hidden("#key-error")

    await page.fill("#key-input", "not-the-key")
    await page.click("#key-submit")
    await page.wait_for_selector("#key-error:not([hidden])")
    assert await page.is_visible("#key-overlay")
    assert await page.is_disabled("#input")
    assert await chat.storage("aibot.key") is None

    await page.fill("#key-input", gw.api_key)
    await page.press("#key-input", "Enter")
    await chat.ready()
    assert await page.is_hidden("#key-overlay")
    assert await chat.storage("aibot.key") == gw.api_key
    assert chat_requests(fake_llm) == []
    await chat.send("hello with a key")
    assert await chat.texts(ASSISTANT) == ["echo: hello with a key"]

    await page.reload()  # the key is remembered
    await chat.ready()
    assert await page.is_hidden("#key-overlay")
    assert await chat.texts(USER) == ["hello with a key"]


async def test_reconnects_after_the_gateway_restarts_and_keeps_the_conversation(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url)
    await chat.send("before the restart")

    await gw.stop()
    banner = chat.page.locator("#banner-conn")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("reconnecting")
    assert await chat.page.is_disabled("#input")
    assert await chat.texts(USER) == ["before the restart"]

    await gw.start()
    await chat.page.wait_for_selector("body[data-conn=ready]", timeout=30_000)
    await expect(banner).to_be_hidden()
    await chat.send("after the restart")
    assert await chat.texts(USER) == ["before the restart", "after the restart"]
    assert user_messages(fake_llm) == ["before the restart", "after the restart"]


WIDE_ANSWER = (
    "A long token: " + "x" * 300 + "\n\n"
    "```\n" + "code_that_does_not_wrap = " + "1 + " * 80 + "1\n```\n\n"
    "| provider | model | latency | notes |\n| --- | --- | --- | --- |\n"
    "| minimax | MiniMax-M2 | 820 ms | a fairly long note that goes on and on |\n\n"
    "https://example.com/" + "very-long-path/" * 12
)


@pytest.mark.parametrize(
    ("viewport", "scheme"), [(PHONE, "dark"), (DESKTOP, "light")], ids=["phone", "desktop"]
)
async def test_layout_has_no_horizontal_scroll(
    gateway_factory: Any,
    fake_llm: FakeOpenAI,
    open_page: OpenPage,
    tmp_path: Path,
    viewport: dict[str, int],
    scheme: str,
) -> None:
    gw = await gateway_factory()
    chat = await open_chat(open_page, gw.url, viewport=viewport, color_scheme=scheme)
    await chat.send("Hello! What can you do?")
    fake_llm.script(Reply(WIDE_ANSWER))
    await chat.send("Show me something wide: " + "y" * 200)

    width = viewport["width"]
    sizes = await chat.page.evaluate("""() => ({
        doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,
        scroller: document.getElementById('scroller').scrollWidth,
        scrollerClient: document.getElementById('scroller').clientWidth,
        inner: window.innerWidth})""")
    assert sizes["inner"] == width
    assert sizes["doc"] <= width and sizes["body"] <= width, sizes
    assert sizes["scroller"] <= sizes["scrollerClient"], sizes
    for selector in ("#send", "#new-chat", "#input"):
        box = await chat.page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)

    shot = tmp_path / f"aibot-webchat-{'phone' if width < 600 else 'desktop'}.png"
    await chat.page.screenshot(path=str(shot))
    keep_screenshot(shot)
