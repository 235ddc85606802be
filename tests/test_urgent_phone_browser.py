"""The duty officer's phone: an urgent report completed at 390×844 by touch and by keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.support.browser import screenshot, sideways
from tests.support.console import PASSWORD
from tests.support.urgent_site import CHANNELS, FACTS, WAIT_MS, Site, site

__all__ = ["site"]  # fixtures, used by name

PHONE: ViewportSize = {"width": 390, "height": 844}
NARROWEST: ViewportSize = {"width": 320, "height": 640}
TAB_LIMIT = 60  # presses of Tab to reach any control of a page


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A touch screen the size of a phone (390×844 CSS pixels)."""
    context = browser.new_context(locale="zh-CN", viewport=PHONE, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def fits(page: Page, what: str) -> None:
    """The page never scrolls sideways, on this phone and on the narrowest (320 px) one."""
    assert sideways(page) <= 0, f"{what}: scrolls {sideways(page)} px sideways at 390 px"
    page.set_viewport_size(NARROWEST)
    try:
        assert sideways(page) <= 0, f"{what}: scrolls {sideways(page)} px sideways at 320 px"
    finally:
        page.set_viewport_size(PHONE)


def keep(page: Page, name: str) -> None:
    """Keep a full-page screenshot as an artifact and say where it is."""
    print(f"screenshot: {screenshot(page, name)}")


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until ``selector`` has the focus (keyboard only)."""
    for _ in range(TAB_LIMIT):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def sign_in(page: Page, base: str, *, keyboard: bool) -> None:
    page.goto(base + "/urgent")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    if keyboard:
        tab_to(page, "input[name=name]")
        page.keyboard.type("zhao.lei")
        tab_to(page, "input[name=password]")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
    else:
        page.fill("input[name=name]", "zhao.lei")
        page.fill("input[name=password]", PASSWORD)
        page.tap("main button[type=submit]")
    expect(page).to_have_url(base + "/urgent")


def compose_by_touch(page: Page, title: str) -> None:
    page.tap("input[name=status][value=Actual]")
    page.tap("input[name=title]")
    page.fill("input[name=title]", title)
    page.fill("input[name=area]", "某区某高架桥")
    page.select_option("select[name=severity]", "较大")
    page.fill("textarea[name=facts]", FACTS)
    page.fill("textarea[name=instruction]", "请绕行某路、某路。")


def compose_by_keyboard(page: Page, title: str) -> None:
    tab_to(page, "input[name=status]")
    page.keyboard.press("Space")  # the first choice: 正式发布
    tab_to(page, "input[name=title]")
    page.keyboard.type(title)
    tab_to(page, "input[name=area]")
    page.keyboard.type("某区某高架桥")
    tab_to(page, "select[name=severity]")
    for _ in range(3):  # 特别重大, 重大, 较大
        page.keyboard.press("ArrowDown")
    tab_to(page, "textarea[name=facts]")
    page.keyboard.type(FACTS)
    tab_to(page, "textarea[name=instruction]")
    page.keyboard.type("请绕行某路、某路。")


def in_view(page: Page, selector: str) -> dict[str, float]:
    """The box of ``selector``, asserting it lies wholly inside the screen as it is now."""
    box = page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; }""",
                        selector)
    assert box["top"] >= 0 and box["bottom"] <= PHONE["height"], (selector, box)
    assert box["left"] >= 0 and box["right"] <= PHONE["width"], (selector, box)
    return dict(box)


def confirm_page(page: Page, title: str, name: str) -> None:
    """The confirmation fits the phone, shows every channel's whole message, and has the publish
    and back actions on screen without scrolling past the previews, each at least 44 px tall."""
    expect(page.locator("h1")).to_have_text("确认发布")
    fits(page, "the confirmation")
    for channel in CHANNELS:
        card = page.locator(f'[data-channel="{channel}"][data-ok="true"]')
        expect(card).to_have_count(1)
        text = card.locator(".preview-text")
        expect(text).to_contain_text(FACTS[:20])
        clipped = text.evaluate("e => e.scrollHeight > e.clientHeight + 1 || "
                                "e.scrollWidth > e.clientWidth + 1")
        assert not clipped, f"{channel}: its message is cut off inside a scroll box"
    expect(page.locator(".preview-title").first).to_contain_text(title)
    page.evaluate("window.scrollTo(0, 0)")
    for selector in ("[data-publish]", "form.confirm button[name=back]"):
        box = in_view(page, selector)
        assert box["height"] >= 44, (selector, box)
    keep(page, f"{name}-confirm")
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    keep(page, f"{name}-confirm-end")


def board(page: Page, site: Site, name: str, published: int) -> None:
    """The board, one card per channel, announces the short summary once all are published."""
    expect(page).to_have_url(re.compile(r"/incidents/incident-\d{8}-\d{6}(-\d+)?\?posted=1$"))
    fits(page, "the incident board")
    if not site.daemon.thread.is_alive():
        site.daemon.thread.start()
    expect(page.locator('[data-cell] [data-state="published"]')).to_have_count(
        len(CHANNELS), timeout=WAIT_MS)
    expect(page.locator("[data-board-status]")).to_have_text(
        f"首报：{len(CHANNELS)}/{len(CHANNELS)} 已发布", timeout=WAIT_MS)
    fits(page, "the incident board, published")
    widths = page.evaluate("[...document.querySelectorAll('table.board-step tr[data-cell]')]"
                           ".map(r => r.getBoundingClientRect().width)")
    assert widths and min(widths) > PHONE["width"] * 0.8  # cards, not squeezed table columns
    for link in page.locator("[data-url] a").all():
        box = link.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, box
        expect(link).to_contain_text("新窗口")
    keep(page, f"{name}-board")
    assert published >= 1


@pytest.mark.parametrize("way", ["touch", "keyboard"])
def test_urgent_report_on_a_phone(phone: Page, site: Site, way: str) -> None:
    """On a 390×844 touch screen (and at 320 px) an urgent report is composed, confirmed and
    published by touch, or by keyboard alone: no page scrolls sideways, the confirmation shows
    each channel's whole message with publish and back on screen and 44 px tall, and the board
    shows a card per channel and announces "首报：3/3 已发布"; screenshots are kept."""
    page = phone
    keyboard = way == "keyboard"
    title = f"某高架桥发生垮塌（{way}）"
    name = f"urgent-phone-{way}"
    sign_in(page, site.base, keyboard=keyboard)
    fits(page, "the compose form")
    (compose_by_keyboard if keyboard else compose_by_touch)(page, title)
    expect(page.locator("select[name=severity]")).to_have_value("较大")
    for channel in CHANNELS:
        expect(page.locator(f'#previews [data-channel="{channel}"][data-ok="true"]')).to_have_count(
            1, timeout=WAIT_MS)
    # a short status line is announced, not the previews' hundreds of characters
    expect(page.locator("[data-preview-status]")).to_have_text("预览已更新：3 个渠道均可发布。")
    expect(page.locator("[data-preview-status]")).to_have_attribute("role", "status")
    assert page.locator("#previews").get_attribute("aria-live") is None
    assert page.locator("#previews [aria-live], #previews [role=alert]").count() == 0
    fits(page, "the compose form, filled in")
    keep(page, f"{name}-compose")
    def by_keyboard(selector: str) -> None:
        tab_to(page, selector)
        page.keyboard.press("Enter")

    act: Callable[[str], None] = by_keyboard if keyboard else page.tap
    act("form#compose button[type=submit]")
    expect(page).to_have_url(site.base + "/urgent/preview")
    confirm_page(page, title, name)
    act("[data-publish]")
    board(page, site, name, 1)


def test_refused_report_puts_the_focus_on_its_problems(phone: Page, site: Site) -> None:
    """A report refused by the server (no channel chosen) opens with the focus on the error
    summary at the top; each problem links to its field, and following the link by keyboard
    puts the focus on that field."""
    page = phone
    sign_in(page, site.base, keyboard=False)
    compose_by_touch(page, "某高架桥发生垮塌")
    for box in page.locator("input[name=channels]").all():
        if box.is_checked():
            box.tap()
    page.tap("form#compose button[type=submit]")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    assert in_view(page, "[data-error-summary]")["top"] < PHONE["height"] / 2
    link = summary.locator('[data-problem-for="channels"] a')
    expect(link).to_have_attribute("href", "#field-channels")
    page.keyboard.press("Tab")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#field-channels")).to_be_focused()
    fits(page, "the refused form")
    keep(page, "urgent-phone-refused")
