"""The gazette channel: queued items, compiled issues, pairs, errata and immutability checks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from channels.base import ChannelContext, ContentRejected, Message, PermanentChannelError
from channels.gazette.adapter import GazetteChannel, GazetteSettings
from channels.gazette.issue import (
    compile_issue,
    describe,
    find_issue,
    queue_erratum,
    sha256_of,
    verify,
)
from channels.gazette.state import load_state

SHANGHAI = timezone(timedelta(hours=8))
BASE_URL = "http://portal.example.gov.cn/"


@pytest.fixture
def make_gazette(context: ChannelContext) -> Callable[..., GazetteChannel]:
    def make(**overrides: Any) -> GazetteChannel:
        values: dict[str, Any] = {"gazette_name": "某市人民政府公报",
                                  "site_name": "某市人民政府门户网站", "site_dir": "site",
                                  "base_url": BASE_URL, "first_issue_no": 23,
                                  "first_total_no": 737,
                                  "section_by_release": {"food-safety-sampling": "departments"}}
        values.update(overrides)
        return GazetteChannel("gazette-main", GazetteSettings(**values), context)

    return make


def _message(n: int, **meta: str) -> Message:
    metadata = {"issuing_organ": "某市市场监督管理局", "signed_date": f"2026-11-{n:02d}",
                "published_date": "2026-12-02", "document_number": f"某市监发〔2026〕{n}号",
                "slug": f"doc-{n}", **meta}
    return Message(release_key=f"r{n}", definition_id="food-safety-sampling",
                   title=f"关于第{n}号事项的通知", body=f"<p>第{n}号正文。</p>",
                   body_format="html", metadata=metadata)


def _send(channel: GazetteChannel, n: int, **meta: str) -> str:
    key = f"{n:032x}"
    channel.send(channel.prepare(_message(n, **meta)), key)
    return key


def _compile(channel: GazetteChannel, day: datetime, **kw: Any) -> Any:
    return compile_issue(channel.gazette, today=day.date(), now=day, **kw)


def test_item_is_queued_for_the_next_issue_then_published(
        make_gazette: Callable[..., GazetteChannel]) -> None:
    """A sent item is pending, naming the issue it waits for; compiling publishes it."""
    channel = make_gazette()
    key = _send(channel, 1)
    receipt = channel.find(key, channel.prepare(_message(1)))
    assert receipt is not None and receipt.pending
    assert receipt.details["queued_for"] == "2026年第23期"
    _compile(channel, datetime(2026, 12, 5, 9, tzinfo=SHANGHAI))
    final = channel.status(receipt)
    assert not final.pending and final.details["issue"] == "2026年第23期（总第737期）"
    assert final.url == f"{BASE_URL}gazette/2026-23.html#item-1"


def test_send_twice_queues_once(make_gazette: Callable[..., GazetteChannel]) -> None:
    """The same key sent again leaves one queued item."""
    channel = make_gazette()
    _send(channel, 1)
    _send(channel, 1)
    assert len(load_state(channel.gazette.site_dir).queue) == 1


def test_two_issues_across_a_year_boundary(make_gazette: Callable[..., GazetteChannel]) -> None:
    """The December and January issues continue the total; January restarts at number 1."""
    channel = make_gazette()
    _send(channel, 1)
    december = _compile(channel, datetime(2026, 12, 20, 9, tzinfo=SHANGHAI))
    _send(channel, 2)
    january = _compile(channel, datetime(2027, 1, 5, 9, tzinfo=SHANGHAI))
    assert december.number.full_label == "2026年第23期（总第737期）"
    assert january.number.full_label == "2027年第1期（总第738期）"
    site = channel.gazette.site_dir
    assert "2027年第1期（总第738期）" in (site / "gazette/2027-01.html").read_text("utf-8")


def test_merged_issue_is_one_publication(make_gazette: Callable[..., GazetteChannel]) -> None:
    """A double issue is one page with both numbers and one total."""
    channel = make_gazette()
    _send(channel, 1)
    merged = _compile(channel, datetime(2026, 12, 20, 9, tzinfo=SHANGHAI), merged=2)
    assert merged.number.full_label == "2026年第23、24期（总第737期）"
    assert list(merged.files) == ["gazette/2026-23-24.html"]
    _send(channel, 2)
    assert _compile(channel, datetime(2027, 1, 5, tzinfo=SHANGHAI)).number.total_no == 738


def test_sections_in_order_with_toc_anchors(make_gazette: Callable[..., GazetteChannel]) -> None:
    """Items print in section order; each TOC entry links to its item's anchor."""
    channel = make_gazette()
    _send(channel, 3)  # departments
    _send(channel, 4, gazette_section="rules", document_number="市政府令第2号",
          effective_date="2027-01-12")
    issue = _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    assert [i.section for i in issue.items] == ["rules", "departments"]
    html = (channel.gazette.site_dir / "gazette/2026-23.html").read_text("utf-8")
    assert html.index("市政府规章") < html.index("部门文件")
    for item in issue.items:
        assert f'href="#{item.anchor}"' in html and f'id="{item.anchor}"' in html
    assert "施行日期：2027年1月12日" in html


def test_issue_gets_an_atom_entry_in_the_gazette_column(
        make_gazette: Callable[..., GazetteChannel]) -> None:
    """Each issue is a portal item in the gazette column with its own feed entry."""
    channel = make_gazette()
    _send(channel, 1)
    _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    site = channel.gazette.site_dir
    feed = ET.parse(site / "feed.atom").getroot()  # noqa: S314 - our own file
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert titles == ["某市人民政府公报2026年第23期（总第737期）"]
    assert "2026-23.html" in (site / "gazette/index.html").read_text("utf-8")


def test_yearly_index_by_section_and_organ(make_gazette: Callable[..., GazetteChannel]) -> None:
    """The yearly index lists every item of the year under its section and under its organ."""
    channel = make_gazette()
    _send(channel, 1)
    _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    _send(channel, 2, issuing_organ="某市人民政府", gazette_section="government")
    _compile(channel, datetime(2026, 12, 20, tzinfo=SHANGHAI))
    html = (channel.gazette.site_dir / "gazette/index-2026.html").read_text("utf-8")
    by_section, by_organ = html.split('id="by-organ"')
    for text in (by_section, by_organ):
        assert "2026-23.html#item-1" in text and "2026-24.html#item-1" in text
    assert "某市人民政府</h3>" in by_organ and "市政府文件</h3>" in by_section


def test_document_and_interpretation_wait_for_each_other(
        make_gazette: Callable[..., GazetteChannel]) -> None:
    """A document whose interpretation is not queued yet is held; together they print and link."""
    channel = make_gazette()
    _send(channel, 1, paired_with="doc-2")
    _send(channel, 5)
    first = _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    assert [i.slug for i in first.items] == ["doc-5"] and [i.slug for i in first.held] == ["doc-1"]
    _send(channel, 2, gazette_kind="interpretation", paired_with="doc-1")
    second = _compile(channel, datetime(2026, 12, 20, tzinfo=SHANGHAI))
    assert sorted(i.slug for i in second.items) == ["doc-1", "doc-2"]
    assert second.items[-1].section == "interpretations"
    html = (channel.gazette.site_dir / "gazette/2026-24.html").read_text("utf-8")
    assert "相关解读" in html and "政策原文" in html


def test_erratum_leaves_the_published_issue_unchanged(
        make_gazette: Callable[..., GazetteChannel]) -> None:
    """An erratum prints in a later issue; the earlier issue's files and hashes stay the same."""
    channel = make_gazette()
    key = _send(channel, 1)
    first = _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    site = channel.gazette.site_dir
    before = (site / "gazette/2026-23.html").read_bytes()
    queue_erratum(channel.gazette, key, "<p>第二段“十日”应为“十五日”。</p>",
                  datetime(2026, 12, 10, tzinfo=SHANGHAI))
    second = _compile(channel, datetime(2026, 12, 20, tzinfo=SHANGHAI))
    assert (site / "gazette/2026-23.html").read_bytes() == before
    assert load_state(site).issues[0].files == first.files == {
        "gazette/2026-23.html": sha256_of(before)}
    assert second.items[0].section == "errata"
    assert "更正对象：2026年第23期《关于第1号事项的通知》" in (
        site / "gazette/2026-24.html").read_text("utf-8")
    assert verify(site) == []


def test_tampered_file_is_named_by_verify(make_gazette: Callable[..., GazetteChannel]) -> None:
    """Altering a published file makes verify (and check) name that file; deleting it too."""
    channel = make_gazette()
    _send(channel, 1)
    _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    page = channel.gazette.site_dir / "gazette/2026-23.html"
    page.write_text(page.read_text("utf-8").replace("第1号正文", "第9号正文"), "utf-8")
    problems = verify(channel.gazette.site_dir)
    assert [p.path for p in problems] == ["gazette/2026-23.html"]
    assert any("gazette/2026-23.html" in line for line in channel.check())
    page.unlink()
    assert "missing" in str(verify(channel.gazette.site_dir)[0])


def test_published_item_cannot_be_retracted(make_gazette: Callable[..., GazetteChannel]) -> None:
    """Retracting a queued item removes it; a published one is refused (errata only)."""
    channel = make_gazette()
    queued = channel.send(channel.prepare(_message(1)), "a" * 32)
    channel.retract(queued)
    assert load_state(channel.gazette.site_dir).queue == []
    published = channel.send(channel.prepare(_message(2)), "b" * 32)
    _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    with pytest.raises(PermanentChannelError) as info:
        channel.retract(published)
    assert info.value.code == "immutable"


def test_dry_run_writes_nothing(make_gazette: Callable[..., GazetteChannel]) -> None:
    """A dry run numbers and renders the issue but leaves the queue and the site as they were."""
    channel = make_gazette()
    _send(channel, 1)
    state_before = json.loads((channel.gazette.site_dir / "_gazette/state.json").read_text())
    result = _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI), dry_run=True)
    assert result.dry_run and result.number.total_no == 737
    assert json.loads((channel.gazette.site_dir / "_gazette/state.json").read_text()) == state_before
    assert not (channel.gazette.site_dir / "gazette").exists()


def test_empty_queue_does_not_compile(make_gazette: Callable[..., GazetteChannel]) -> None:
    """With nothing queued there is no issue, and no number is used up."""
    with pytest.raises(PermanentChannelError) as info:
        _compile(make_gazette(), datetime(2026, 12, 5, tzinfo=UTC))
    assert info.value.code == "nothing_queued"


@pytest.mark.parametrize(("meta", "field"), [
    ({"issuing_organ": ""}, "metadata.issuing_organ"),
    ({"signed_date": "2026-13-01"}, "metadata.signed_date"),
    ({"effective_date": "明年"}, "metadata.effective_date"),
    ({"gazette_section": "ads"}, "metadata.gazette_section"),
    ({"gazette_kind": "notice"}, "metadata.gazette_kind"),
])
def test_prepare_names_the_bad_field(make_gazette: Callable[..., GazetteChannel],
                                     meta: dict[str, str], field: str) -> None:
    """prepare refuses a missing organ, bad dates and unknown sections, naming the field."""
    with pytest.raises(ContentRejected) as info:
        make_gazette().prepare(_message(1, **meta))
    assert info.value.field == field


def test_settings_refuse_unknown_sections() -> None:
    """A release mapped to a section that is not configured is a settings error."""
    with pytest.raises(ValidationError):
        GazetteSettings(gazette_name="公报", site_name="网站", site_dir="s", base_url=BASE_URL,
                        section_by_release={"x": "nowhere"})


def test_anchor_numbers_follow_print_order(make_gazette: Callable[..., GazetteChannel]) -> None:
    """Anchors run item-1, item-2 … in the printed order."""
    channel = make_gazette()
    for n in (9, 8, 7):
        _send(channel, n)
    issue = _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI))
    assert [i.anchor for i in issue.items] == ["item-1", "item-2", "item-3"]
    assert [i.signed_date for i in issue.items] == sorted(i.signed_date for i in issue.items)
    html = (channel.gazette.site_dir / "gazette/2026-23.html").read_text("utf-8")
    assert re.findall(r'id="(item-\d+)"', html) == ["item-1", "item-2", "item-3"]


def test_show_finds_issues_by_number(make_gazette: Callable[..., GazetteChannel]) -> None:
    """An issue is found by slug or total number; describe lists its items and integrity."""
    channel = make_gazette()
    _send(channel, 1)
    _compile(channel, datetime(2026, 12, 5, tzinfo=SHANGHAI), merged=2)
    site = channel.gazette.site_dir
    issue = find_issue(site, "2026-24")
    assert issue is not None and issue == find_issue(site, "737") == find_issue(site)
    shown = describe(site, issue)
    assert shown["issue"] == "2026年第23、24期（总第737期）" and shown["intact"] is True
    assert [i["title"] for i in shown["items"]] == ["关于第1号事项的通知"]
    assert find_issue(site, "2026-25") is None
