"""The gazette PDF read back: TOC page numbers match where items start; CJK text extracts."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from channels.base import ChannelContext, Message
from channels.gazette.adapter import GazetteChannel, GazetteSettings
from channels.gazette.issue import compile_issue, verify

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

SHANGHAI = timezone(timedelta(hours=8))


def _pdf_issue(tmp_path: Any) -> tuple[GazetteChannel, bytes]:
    context = ChannelContext(clock=lambda: datetime(2026, 12, 1, tzinfo=SHANGHAI),
                             sleep=lambda s: None, session=requests.Session(), work_dir=tmp_path,
                             zone=SHANGHAI)
    settings = GazetteSettings(gazette_name="某市人民政府公报", site_name="某市人民政府门户网站",
                               site_dir="site", base_url="http://portal.example.gov.cn/",
                               pdf=True)
    channel = GazetteChannel("gazette-main", settings, context)
    long_body = "".join(f"<p>第{n}条　本办法所称食品安全抽检，是指按计划抽样检验。</p>"
                        for n in range(1, 60))
    for n, body in ((1, long_body), (2, "<p>短文。</p>"), (3, long_body)):
        message = Message(release_key=f"r{n}", definition_id="d", title=f"关于第{n}项工作的通知",
                          body=body, body_format="html",
                          metadata={"issuing_organ": "某市人民政府办公厅",
                                    "signed_date": f"2026-11-0{n}",
                                    "published_date": "2026-12-01"})
        channel.send(channel.prepare(message), f"{n:032x}")
    compile_issue(channel.gazette, today=datetime(2026, 12, 5).date(),
                  now=datetime(2026, 12, 5, 9, tzinfo=SHANGHAI))
    pdf = (channel.gazette.site_dir / "gazette/2026-01.files/2026-01.pdf").read_bytes()
    return channel, pdf


def test_toc_page_numbers_match_item_pages(tmp_path: Any) -> None:
    """Each TOC entry's page number is the page on which that item's heading is printed."""
    channel, pdf = _pdf_issue(tmp_path)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [page.extract_text() or "" for page in reader.pages]
    toc = pages[0]
    assert "某市人民政府公报" in toc and "目" in toc
    checked = 0
    for n in (1, 2, 3):
        title = f"关于第{n}项工作的通知"
        match = re.search(re.escape(title) + r"[.\s]*(\d+)", toc)
        assert match is not None, f"{title} not in the TOC"
        printed = int(match.group(1))
        starts = next(i + 1 for i, text in enumerate(pages) if i > 0 and title in text)
        assert printed == starts
        checked += 1
    assert checked == 3 and len(pages) > 4  # the long items run over several pages
    assert verify(channel.gazette.site_dir) == []


def test_cjk_fonts_are_embedded(tmp_path: Any) -> None:
    """Every font in the PDF is embedded, and the Chinese body text extracts as written."""
    _, pdf = _pdf_issue(tmp_path)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() or "" for page in reader.pages)
    assert "本办法所称食品安全抽检" in text and "某市人民政府办公厅" in text
    fonts = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font \
                else font
            descriptor = described["/FontDescriptor"].get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts += 1
    assert fonts > 0
