"""Browser fixtures for the e2e tests (machinery: tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import async_playwright

from tests.support.browser import CHROMIUM_ARGS, OpenPage, PageOpener, find_chromium


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return find_chromium()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def open_page(browser: Any) -> AsyncIterator[OpenPage]:
    """`await open_page(viewport=PHONE, color_scheme="dark")` → a fresh context and page; the
    test fails if any page reported an error."""
    opener = PageOpener(browser)
    yield opener
    problems = await opener.close_all()
    assert not problems, f"the page reported errors: {problems}"
