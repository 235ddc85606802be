"""The browser tests' own parts work: Debian's Chromium starts headless and screenshots are kept."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.browser import screenshot


def test_chromium_renders_chinese_and_keeps_a_screenshot(page: Page) -> None:
    """A page with Chinese text renders in headless Chromium and its screenshot is a PNG file."""
    page.set_content("<html lang='zh-CN'><body><h1>食品安全抽检</h1></body></html>")
    assert page.inner_text("h1") == "食品安全抽检"
    path = screenshot(page, "smoke")
    assert path.read_bytes().startswith(b"\x89PNG")
