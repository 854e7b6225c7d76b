"""A real browser for the web view's tests and the README's screenshots: Debian's chromium,
driven by Playwright through `executable_path`, so Playwright never downloads a browser of its
own (`make test` installs chromium as root when it is missing)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from playwright.async_api import Browser, Page, async_playwright

from tests.sshd import missing

CHROMIUM: Final = "chromium"  # Debian's package and command
VIEWPORT: Final = {"width": 1400, "height": 900}


def chromium_path() -> str:
    """The system chromium; a test without one fails under CI and skips elsewhere."""
    path = shutil.which(CHROMIUM)
    if path is None:
        missing(
            "chromium is missing: `make test` installs it as root (or apt-get install chromium)"
        )
    return path


@asynccontextmanager
async def open_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, url: str, token: str, init_script: str | None = None) -> Page:
    """A new page of the web view at `url`, signed in through the form as a person would;
    `init_script` runs in it before the page's own."""
    page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    if init_script is not None:
        await page.add_init_script(init_script)
    await page.goto(url)
    await page.fill("#token", token)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#sign-out:visible")
    return page
