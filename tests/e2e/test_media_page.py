"""The web page's attachments in a real browser: the file button and a pasted screenshot reach
the model as a picture; the chip shows the file's name before sending."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import FakeOpenAI
from tests.support import media_files
from tests.support.browser import OpenPage

SEEING = {"models": {"providers": {"fake": {"vision": True}}}}


async def test_file_button_and_paste_send_pictures(
    gateway_factory: Any, fake_llm: FakeOpenAI, open_page: OpenPage, tmp_path: Path
) -> None:
    gw = await gateway_factory(SEEING)
    page = (await open_page()).page
    await page.goto(gw.url)
    await page.wait_for_selector("body[data-conn=ready]")

    picture = tmp_path / "chart.png"
    picture.write_bytes(media_files.png())
    await page.set_input_files("#file-input", str(picture))
    assert "chart.png" in await page.inner_text("#attachments")
    await page.click("#send")  # no text needed with a picture
    await page.locator(".msg.assistant[data-state=done]").first.wait_for()
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    assert await page.locator("#attachments").is_hidden()

    encoded = base64.b64encode(media_files.png(20, 20, (0, 128, 0))).decode()
    await page.locator("#input").click()
    await page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "paste.png", {type: "image/png"}));
            const event = new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true});
            document.getElementById("input").dispatchEvent(event);
        }""",
        encoded,
    )
    assert "paste.png" in await page.inner_text("#attachments")
    await page.keyboard.insert_text("what colour?")
    await page.locator("#input").press("Enter")
    await page.locator(".msg.assistant[data-state=done]").nth(1).wait_for()
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    user = fake_llm.chat_requests()[-1]["messages"][-1]["content"][0]["text"]
    assert "what colour?" in user
