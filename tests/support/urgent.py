"""The urgent section and template the urgent tests add to the small project, and an App with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import config as config_module
from publisher.app import App
from publisher.urgent import UrgentPost

URGENT = """
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务\\\\应急管理
  column: news
  channels: [mem-a, mem-b]
  sender: www.example.gov.cn
"""
TEMPLATE = "{% if urgent.drill %}【演练】{% endif %}【{{ urgent.area }}】{{ urgent.facts }}"


@pytest.fixture
def urgent_app(app: App, project: Path) -> App:
    """The test App with an urgent section and urgent templates for the memory channels."""
    (project / "templates" / "_urgent").mkdir()
    (project / "templates" / "_urgent" / "memory.txt.j2").write_text(TEMPLATE,
                                                                     encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def urgent_post(**kw: object) -> UrgentPost:
    fields = {"title": "某高架桥发生垮塌", "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
              "area": "某区某高架桥", "severity": "较大", "instruction": "请绕行。"} | kw
    return UrgentPost(**fields)
