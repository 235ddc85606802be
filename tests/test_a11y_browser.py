"""axe-core (WCAG 2 A/AA, 2.1, 2.2 target size) on every portal page kind and every console page, at
a phone's and a desktop's size, in headless Chromium; pages never scroll sideways."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from publisher.intake import slot as slots
from publisher.store.models import Delivery
from publisher.web import console
from tests.a11y_world import World, build
from tests.support import axe
from tests.support.browser import screenshot, sideways
from tests.support.console import PASSWORD

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
# Each kind of portal page: a pattern of its path in the site and a text only that kind holds.
PORTAL_KINDS = {
    "home": (r"^index\.html$", ""),
    "column": (r"^(?!gazette/)[a-z-]+/index\.html$", 'class="list"'),
    "article": (r"^(?!emergency/|gazette/)[a-z-]+/[a-z-]+-\d{8}-\d{6}\.html$", "<table"),
    "emergency with updates": (r"^emergency/urgent-[\d-]+\.html$", 'class="timeline"'),
    "withdrawn": (r"^emergency/urgent-[\d-]+\.html$", "已撤回"),
    "gazette index": (r"^gazette/index\.html$", ""),
    "gazette year": (r"^gazette/index-\d{4}\.html$", ""),
    "gazette issue": (r"^gazette/\d{4}-\d{2}\.html$", "<table"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Every release published, two incidents (one withdrawn), a gazette issue; both servers."""
    yield from build(tmp_path_factory.mktemp("a11y"))


def _context(browser: Browser, size: str) -> BrowserContext:
    width, height = SIZES[size]
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                  has_touch=size == "phone", is_mobile=size == "phone")
    context.set_default_timeout(15_000)
    return context


def _here(page: Page, name: str, found: dict[str, str]) -> None:
    """Check the page as it is now; note its violations and sideways scroll under ``name``."""
    problems = axe.violations(page)
    wide = sideways(page)
    if problems or wide > 0:
        found[name] = axe.describe(problems) + (f"\n    scrolls {wide} px sideways" if wide else "")
        screenshot(page, f"a11y-{name}")


def _check(page: Page, url: str, name: str, found: dict[str, str]) -> None:
    page.goto(url)
    _here(page, name, found)


@pytest.mark.parametrize("size", SIZES)
def test_every_portal_page_kind_passes_axe(browser: Browser, world: World, size: str) -> None:
    """Every page of a portal site holding every kind of page (home, columns, articles with
    data tables, an emergency page with updates, a withdrawn page, the gazette's index, year
    and issue) has no axe violation and no sideways scroll."""
    pages = sorted(str(p.relative_to(world.site_dir)) for p in world.site_dir.rglob("*.html"))
    for kind, (pattern, marker) in PORTAL_KINDS.items():
        assert any(re.match(pattern, p) and marker in (world.site_dir / p).read_text("utf-8")
                   for p in pages), f"no {kind} page among {pages}"
    context = _context(browser, size)
    found: dict[str, str] = {}
    try:
        page = context.new_page()
        assert axe.version(page).startswith("4.")  # the pinned copy, injected
        for path in pages:
            _check(page, world.portal.url + path, f"portal-{size}-{path}", found)
    finally:
        context.close()
    assert not found, "\n".join(f"{name}:\n{text}" for name, text in found.items())


def _param(world: World, name: str, route: str) -> str:
    definition = "food-safety-sampling"  # the data pages: the shipped definition's current period
    period = slots.current_period(world.app, definition, world.app.clock.now()).key
    samples = {"key": world.incident, "delivery_id": "1", "key_or_id": "1",
               "definition_id": definition, "period_key": period, "channel": "portal-main"}
    if name not in samples:
        pytest.fail(f"{route}: give the accessibility test a sample value for {{{name}}} "
                    "(tests/test_a11y_browser.py, _param)")
    return samples[name]


def console_pages(world: World) -> list[str]:
    """A URL of every console page that answers GET with HTML (every router of the console,
    so that pages added later are checked too), and of the pages only forms reach."""
    paths = []
    for router in console.ROUTERS:
        for route in router.routes:
            path: str = getattr(route, "path", "")
            if "GET" not in getattr(route, "methods", ()) or \
                    getattr(route, "response_class", None) is not HTMLResponse:
                continue

            def value(m: re.Match[str], route: str = path) -> str:
                return _param(world, m.group(1), route)

            paths.append(re.sub(r"\{(\w+)\}", value, path))
    paths = [p if p != "/reports/figure" else _figure_link(world) for p in paths]
    with world.app.store.read() as session:  # every message made by the shipped templates
        deliveries = session.execute(select(Delivery.id).order_by(Delivery.id)).scalars().all()
    return [*paths, f"/incidents/{world.withdrawn}", "/releases/2", "/no-such-page",
            *(f"/deliveries/{number}/preview" for number in deliveries)]


def _figure_link(world: World) -> str:
    """The first figure linked from the annual report page (its query names the period)."""
    with requests.Session() as session:
        login = session.get(world.base + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]*)"', login.text)
        assert token
        session.post(world.base + "/login", timeout=30, data={
            "csrf_token": token.group(1), "name": world.account, "password": PASSWORD})
        shown = session.get(world.base + "/reports", timeout=30).text
    link = re.search(r'href="(/reports/figure\?[^"]+)"', shown)
    assert link, "the report page links no figure"
    return link.group(1).replace("&amp;", "&")


def sign_in(page: Page, world: World) -> None:
    """Sign in through the form as the test's account (every role)."""
    page.goto(world.base + "/login")
    page.fill("input[name=name]", world.account)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(world.base + "/")


@pytest.mark.parametrize("size", SIZES)
def test_every_console_page_passes_axe(browser: Browser, world: World, size: str) -> None:
    """The sign-in page, every page of every console router (filled with real releases,
    deliveries and incidents), a framed message preview, the urgent confirmation, a refused
    urgent form and the not-found page have no axe violation and no sideways scroll."""
    context = _context(browser, size)
    found: dict[str, str] = {}
    try:
        page = context.new_page()
        _check(page, world.base + "/login", f"console-{size}-login", found)
        sign_in(page, world)
        axe.unsandboxed(page, "**/deliveries/*/preview")  # checked as a page of its own
        for path in console_pages(world):
            _check(page, world.base + path, f"console-{size}-{path}", found)
        _forms(page, world, size, found)
    finally:
        context.close()
    assert not found, "\n".join(f"{name}:\n{text}" for name, text in found.items())


def _forms(page: Page, world: World, size: str, found: dict[str, str]) -> None:
    """Check the pages that only forms reach: a refused urgent report (its error summary), the
    urgent confirmation and the confirmation of an incident's update."""
    page.goto(world.base + "/urgent")
    page.check("input[name=status][value=Exercise]")
    page.fill("input[name=title]", "某高架桥发生垮塌")
    page.fill("input[name=area]", "某区某高架桥")
    page.select_option("select[name=severity]", "较大")
    page.fill("textarea[name=facts]", "桥面垮塌，现场已封闭。" * 40)  # too long for Weibo: refused
    page.click("form#compose button[type=submit]")
    page.wait_for_selector("[data-error-summary]")
    _here(page, f"console-{size}-urgent-refused", found)
    page.fill("textarea[name=facts]", "桥面垮塌。")
    page.click("form#compose button[type=submit]")
    page.wait_for_url(world.base + "/urgent/preview")
    _here(page, f"console-{size}-urgent-confirm", found)
    page.goto(f"{world.base}/incidents/{world.incident}")
    page.click("details:has(form[data-step-form=update]) summary")
    page.fill("form[data-step-form=update] textarea[name=facts]", "已有4人送医。")
    page.click("form[data-step-form=update] button[type=submit]")
    page.wait_for_url(re.compile(r"/update/preview$"))
    _here(page, f"console-{size}-update-confirm", found)


def test_portal_data_table_keeps_its_header_and_first_column_in_view(browser: Browser,
                                                                      world: World) -> None:
    """On a phone, the food-safety notice's wide table is a labelled region reached by Tab and
    scrolled by the arrow keys; while it scrolls right and down, its header row and first
    column stay in view."""
    (path,) = (p for p in world.site_dir.glob("food-safety/food-safety-sampling-*.html"))
    context = _context(browser, "phone")
    try:
        page = context.new_page()
        page.goto(world.portal.url + str(path.relative_to(world.site_dir)))
        region = page.locator(".table-scroll").first
        assert region.get_attribute("role") == "region"
        assert region.get_attribute("aria-label") == "不合格产品信息"
        for _ in range(40):
            if region.evaluate("e => e === document.activeElement"):
                break
            page.keyboard.press("Tab")
        assert region.evaluate("e => e === document.activeElement"), "Tab never reached the table"
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        page.wait_for_function("e => e.scrollLeft > 100", arg=region.element_handle())
        region.evaluate("e => { e.style.maxHeight = '12rem'; e.scrollTop = 60; }")  # a tall one
        boxes = region.evaluate("""e => {
            const r = e.getBoundingClientRect();
            const corner = e.querySelector('thead tr > :first-child').getBoundingClientRect();
            const head = e.querySelector('thead th:nth-child(4)').getBoundingClientRect();
            const first = e.querySelector('tbody tr > :first-child').getBoundingClientRect();
            return {left: r.left, top: r.top, corner: [corner.left, corner.top],
                    head: head.top, first: first.left, scrolled: [e.scrollLeft, e.scrollTop]};
        }""")
        screenshot(page, "a11y-portal-table-scrolled")
    finally:
        context.close()
    assert boxes["scrolled"][0] > 100, boxes
    assert abs(boxes["corner"][0] - boxes["left"]) <= 2, boxes  # the first column stays
    assert abs(boxes["first"] - boxes["left"]) <= 2, boxes
    assert boxes["scrolled"][1] > 0 and abs(boxes["head"] - boxes["top"]) <= 2, boxes  # header


def test_bilingual_message_marks_each_language() -> None:
    """A "中文 / English" message is shown with its Chinese part marked zh-CN and its English
    part marked en, as is an English word in full-width brackets; any other text is only
    escaped."""
    from publisher.web.console.deps import bilingual

    assert str(bilingual("已由投递 21 撤回 / withdrawn by delivery 21")) == (
        '<span lang="zh-CN">已由投递 21 撤回</span> / <span lang="en">withdrawn by delivery 21</span>')
    assert str(bilingual("<b>只有中文</b>")) == "&lt;b&gt;只有中文&lt;/b&gt;"
    assert str(bilingual("演练（Exercise）")) == '演练（<span lang="en">Exercise</span>）'
    assert str(bilingual("<i>（Test）")) == '&lt;i&gt;（<span lang="en">Test</span>）'
    assert str(bilingual("a / b")) == "a / b"  # no Chinese part: nothing to mark
    assert "<script>" not in str(bilingual("错误 / <script>x</script>"))


def test_board_marks_english_and_new_windows(browser: Browser, world: World) -> None:
    """On a withdrawn incident's board the English half of a bilingual detail is marked
    lang="en"; on an open one each link that opens a new window says so."""
    context = _context(browser, "desktop")
    try:
        page = context.new_page()
        sign_in(page, world)
        page.goto(f"{world.base}/incidents/{world.withdrawn}")
        english = page.locator('[data-detail] span[lang="en"]')
        assert english.count() >= 1
        assert "withdrawn" in english.first.inner_text()
        page.goto(f"{world.base}/incidents/{world.incident}")
        links = page.locator('a[target="_blank"]')
        assert links.count() >= 1
        for link in links.all():
            assert "新窗口" in link.inner_text()
    finally:
        context.close()
