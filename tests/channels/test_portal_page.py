"""Tests of the pages the portal writes: the release page, indexes, and escaping everywhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from channels.base import Attachment, Message, Receipt, idempotency_key
from channels.portal.adapter import PortalChannel

MessageFactory = Callable[..., Message]
SCRIPT = "<script>alert(1)</script>"


def publish(portal: PortalChannel, message: Message) -> Receipt:
    return portal.send(portal.prepare(message), idempotency_key(message.release_key, portal.name))


def page_text(portal: PortalChannel, receipt: Receipt) -> str:
    return (portal.site_dir / str(receipt.details["path"])).read_text(encoding="utf-8")


def panel_labels(html: str) -> list[str]:
    table = re.search(r'<table class="meta">(.*?)</table>', html, re.S)
    assert table is not None
    return re.findall(r'<th scope="row">(.*?)</th>', table.group(1))


def test_page_is_a_chinese_html5_document_with_inline_css(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The release page is a full HTML5 zh-CN document, utf-8, styled inline with no assets."""
    html = page_text(portal, publish(portal, make_message()))
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"zh-CN\">")
    assert '<meta charset="utf-8">' in html
    assert "<style>" in html
    assert not re.search(r'<(?:link rel="stylesheet"|script|img)\b', html)
    assert "<h1>某市市场监督管理局关于2026年第49周食品安全监督抽检信息的通告</h1>" in html
    assert "<p>本周共抽检食品 <strong>120</strong> 批次，不合格 2 批次。</p>" in html
    assert '<a href="index.html">返回“食品安全抽检”栏目</a>' in html


def test_metadata_panel_lists_the_gov_cn_fields_in_order(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The panel shows 索引号, 主题分类, 发布机构, 成文日期, 文号, 发布日期 in that order."""
    message = make_message(metadata={"document_number": "某市监〔2026〕12号"})
    html = page_text(portal, publish(portal, message))
    assert panel_labels(html) == ["索引号", "主题分类", "发布机构", "成文日期", "文号", "发布日期"]
    assert "<td>MB0000123/2026-00049</td>" in html
    assert "<td>某市监〔2026〕12号</td>" in html
    assert "<td>卫生、体育\\食品安全</td>" in html


def test_document_number_row_is_absent_without_a_document_number(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Without a document number the panel has no 文号 row (and no 成文日期 without a date)."""
    html = page_text(portal, publish(portal, make_message(drop=("signed_date",))))
    assert panel_labels(html) == ["索引号", "主题分类", "发布机构", "发布日期"]
    assert "文号" not in html


def test_attachments_are_copied_and_listed(
    portal: PortalChannel, make_message: MessageFactory, tmp_path: Path
) -> None:
    """Attachments are copied beside the page and linked from its attachment list."""
    table = tmp_path / "upload.csv"
    table.write_text("序号,食品名称\n1,大米\n", encoding="utf-8")
    message = make_message(attachments=(Attachment("不合格产品信息.csv", "text/csv", table),))
    receipt = publish(portal, message)
    html = page_text(portal, receipt)
    copied = portal.site_dir / "food-safety" / "food-safety-sampling-2026-w49.files"
    assert (copied / "不合格产品信息.csv").read_bytes() == table.read_bytes()
    href = re.search(r'<a href="([^"]+)" type="text/csv">不合格产品信息.csv</a>', html)
    assert href is not None
    assert href.group(1).startswith("food-safety-sampling-2026-w49.files/%E4%B8%8D")


def test_column_and_home_indexes_list_items_newest_first(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The column index and the home page list live items with the newest first."""
    publish(portal, make_message(48, metadata={"published_date": "2026-11-25"}))
    publish(portal, make_message(49, metadata={"published_date": "2026-12-02"}))
    publish(portal, make_message(
        50, metadata={"published_date": "2026-12-03", "column": "air-quality",
                      "column_name": "空气质量", "slug": "air-quality-2026-12-03"},
    ))
    column = (portal.site_dir / "food-safety" / "index.html").read_text(encoding="utf-8")
    assert column.index("w49.html") < column.index("w48.html")
    assert "air-quality" not in column.replace('href="../feed.atom"', "")
    home = (portal.site_dir / "index.html").read_text(encoding="utf-8")
    assert home.index("空气质量") < home.index("食品安全抽检")  # columns sorted by id
    assert home.index("food-safety/food-safety-sampling-2026-w49.html") < home.index(
        "food-safety/food-safety-sampling-2026-w48.html"
    )


def test_script_in_title_and_metadata_is_escaped_everywhere(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A <script> in the title or metadata comes out escaped in page, indexes, feed and sitemap."""
    message = make_message(
        title=f"通告{SCRIPT}",
        metadata={"issuing_organ": f"机构{SCRIPT}", "subject_category": SCRIPT,
                  "document_number": SCRIPT, "column_name": f"栏目{SCRIPT}",
                  "summary": f"概述{SCRIPT}"},
    )
    publish(portal, message)
    site = portal.site_dir
    files = [
        site / "food-safety" / "food-safety-sampling-2026-w49.html",
        site / "food-safety" / "index.html",
        site / "index.html",
        site / "feed.atom",
        site / "sitemap.xml",
    ]
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert "<script" not in text, file.name
    for file in files[:4]:
        assert "&lt;script&gt;" in file.read_text(encoding="utf-8"), file.name
