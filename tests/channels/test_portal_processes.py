"""Tests that separate processes writing one portal site serialise on its file lock."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

WRITER = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from channels.base import ChannelContext, Message
from channels.portal.adapter import PortalChannel, PortalSettings

site, first = Path(sys.argv[1]), int(sys.argv[2])
moment = datetime(2026, 12, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))
context = ChannelContext(clock=lambda: moment, sleep=lambda s: None,
                         session=requests.Session(), work_dir=site.parent)
settings = PortalSettings(site_name="站", site_dir=str(site), base_url="http://x.gov.cn/")
portal = PortalChannel("portal-main", settings, context)
for serial in range(first, first + 4):
    message = Message(
        release_key=f"r@{serial}", definition_id="r", title=f"第{serial}号", body="<p>正文</p>",
        body_format="html",
        metadata={"issuing_organ": "局", "subject_category": "综合", "published_date": "2026-12-02",
                  "index_number": f"MB0000123/2026-{serial:05d}", "column": "news",
                  "column_name": "新闻", "slug": f"item-{serial}"},
    )
    portal.send(portal.prepare(message), f"key-{serial}")
"""


@pytest.mark.slow
def test_four_processes_publishing_at_once_lose_no_item(tmp_path: Path) -> None:
    """Four writer processes of 4 items each leave 16 items in the manifest, feed and index."""
    site = tmp_path / "site"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(site), str(first)])
        for first in (1, 5, 9, 13)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    manifest = json.loads((site / "_manifest.json").read_bytes())
    assert sorted(manifest["items"]) == sorted(f"item-{n}" for n in range(1, 17))
    feed = ET.parse(site / "feed.atom").getroot()  # noqa: S314 - our own file
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 16
    assert (site / "news" / "index.html").read_text(encoding="utf-8").count("<li>") == 16
