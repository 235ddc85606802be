"""A policy document and its interpretation (解读) go out together or not at all."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.dispatch import Dispatcher
from publisher.store.models import Delivery, Release
from tests.support.project import SHANGHAI

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
PAIRED = '''    channels: [mem-a, mem-b]
    interpretation:
      title: "《{{ period.label }}测试发布》政策解读"
      templates: weekly-jd
'''


def _paired(app: App, project: Path, template: str) -> None:
    (project / "templates" / "weekly-jd").mkdir()
    (project / "templates" / "weekly-jd" / "memory.txt.j2").write_text(template, encoding="utf-8")
    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("    channels: [mem-a, mem-b]\n", PAIRED), encoding="utf-8")
    app.loaded = config_module.load(config)


def test_document_and_interpretation_go_out_together(app: App, project: Path) -> None:
    """Both parts are recorded in one go, reach every channel, and name each other."""
    _paired(app, project, "解读：本期共{{ tables['items'] | length }}项。原文：{{ release.paired_with }}")
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()
    with app.store.read() as session:
        releases = {r.key: r for r in session.execute(select(Release)).scalars()}
        deliveries = list(session.execute(select(Delivery)).scalars())
    key = "weekly@2026-12-02T10:00+08:00"
    assert set(releases) == {key, f"{key}~interpretation"}
    assert releases[f"{key}~interpretation"].title == "《2026年第49周测试发布》政策解读"
    assert {(d.channel, d.state) for d in deliveries} == {("mem-a", "published"),
                                                          ("mem-b", "published")}
    assert len(deliveries) == 4
    metas = {d.payload["data"]["metadata"]["slug"]: d.payload["data"]["metadata"]
             for d in deliveries if d.channel == "mem-a"}
    document, explained = metas["weekly-20261202-1000"], metas["weekly-20261202-1000-interpretation"]
    assert document["paired_with"] == "weekly-20261202-1000-interpretation"
    assert explained["paired_with"] == "weekly-20261202-1000"
    assert explained["gazette_kind"] == "interpretation"
    assert releases[key].index_number != releases[f"{key}~interpretation"].index_number


def test_broken_interpretation_holds_both(app: App, project: Path) -> None:
    """An interpretation that fails to render holds the document too: nothing is recorded to
    send, and the problem names the interpretation's YAML path."""
    _paired(app, project, "{{ no_such_variable }}")
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert outcome.state == "held"
    assert any(p.startswith("releases.weekly.interpretation.channels.0") for p in outcome.problems)
    with app.store.read() as session:
        assert session.execute(select(Delivery)).first() is None
        keys = [r.key for r in session.execute(select(Release)).scalars()]
    assert keys == ["weekly@2026-12-02T10:00+08:00"]  # the held document, no interpretation row
