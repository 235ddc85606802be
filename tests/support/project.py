"""The test projects: the small one and its parts, a copy of the shipped one, text to escape."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher import config as config_module
from publisher.app import App

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]

PROJECT_YAML = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
defaults:
  misfire_grace_minutes: 60
  retry_deadline_hours: 2
  workers: 2
  retry:
    attempts_per_claim: 3
    initial_wait_seconds: 1
    max_wait_seconds: 10
    sweep_wait_seconds: 30
    max_sweep_wait_seconds: 120
columns:
  news: 新闻
channels:
  mem-a:
    kind: memory
    settings: {}
  mem-b:
    kind: memory
    settings: {max_title_chars: 64}
schemas:
  simple:
    columns:
      - {id: item, header: 项目}
      - {id: amount, header: 数量, type: int}
releases:
  weekly:
    title: "{{ period.label }}测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "0 10 * * wed"
    source:
      period: week
      tables:
        items:
          path: "weekly/{iso_year}-W{iso_week:02d}.csv"
          schema: simple
    channels: [mem-a, mem-b]
"""

TEMPLATE = "{% for r in tables['items'] %}{{ r.item }}：{{ r.amount }}\n{% endfor %}"

HOSTILE = "<script>alert(1)</script>"  # data a page must show escaped
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def copy_project(root: Path) -> Path:
    """A copy of the shipped config, templates and samples; returns the config path."""
    root.mkdir(parents=True)
    shutil.copy2(ROOT / "schedules.yaml", root / "schedules.yaml")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "samples", root / "samples")
    return root / "schedules.yaml"


# appended under ``releases:`` of the small project, and a Weibo account no release uses
REVIEWED = """\
  reviewed:
    title: "{{ period.label }}待审发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "0 9 * * thu"
    templates: weekly
    review: required
    review_lead_minutes: 120
    source:
      period: week
      tables:
        items:
          path: "weekly/{iso_year}-W{iso_week:02d}.csv"
          schema: simple
    channels: [mem-a, mem-b]
"""


def with_other_definition(app: App, project: Path) -> App:
    """The test project with a second definition, ``other``, like ``weekly`` but reading its own
    folder; ``app`` loads it."""

    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8")
    other = text[text.index("  weekly:"):].replace("  weekly:", "  other:", 1) \
        .replace('"weekly/', '"other/').replace("    source:", "    templates: weekly\n    source:")
    config.write_text(text + other, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


FOOD = "food-safety-sampling"


SAMPLES = ROOT / "samples" / FOOD
