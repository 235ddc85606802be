"""The content checks in the prepare step of routine releases: findings on every channel's
rendering naming the channel, field and data cell; a ``block`` finding holds the release and
nothing reaches any emulator; ``review`` waits for an approver; ``warn`` is kept and published."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import release, review
from publisher.app import App
from publisher.check import preview_app
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.period import period_of
from publisher.release import ReleaseProblems, prepare_release
from publisher.source import load_source
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery, Release
from tests.support.project import SHANGHAI, copy_project

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
FOOD = "food-safety-sampling"
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / FOOD
ID_NUMBER = "310101199001011234"
CHANNELS = ("portal-main", "wechat-main", "weibo-main", "gazette-main")
BODY = {"portal-main": "body_html", "wechat-main": "content", "weibo-main": "status",
        "gazette-main": "body_html"}


def _data(folder: Path, extra: str) -> dict[str, Path]:
    """The shipped sample pair as UTF-8 CSV, ``extra`` added to the first data row's
    被抽样单位地址 (file row 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("unqualified", "qualified"):
        rows = list(csv.reader(io.StringIO((SAMPLES / f"{name}.csv").read_bytes()
                                           .decode("gb18030"))))
        if name == "unqualified":
            rows[1][4] += extra
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as file:
            csv.writer(file).writerows(rows)
        out[name] = path
    return out


def _with_template_line(config: Path, text: str) -> None:
    """``text`` in the content of every channel's food-safety template (the gazette's extends
    the portal's)."""
    for kind, ext in (("portal", "html"), ("wechat", "html"), ("weibo", "txt")):
        path = config.parent / "templates" / FOOD / f"{kind}.{ext}.j2"
        source = path.read_text(encoding="utf-8")
        if ext == "html":
            assert source.count("{% block content %}") == 1
            source = source.replace("{% block content %}", f"{{% block content %}}<p>{text}</p>")
        else:
            source += f"{text}\n"
        path.write_text(source, encoding="utf-8")


def test_findings_on_every_channel_name_field_and_cell(tmp_path: Path) -> None:
    """A wording error and a sensitive word in the templates are found on every channel's
    rendering (portal, WeChat, Weibo, gazette) in its body field; an ID number and a leader's
    former title in a data cell are found where the cell is rendered, naming the file, row and
    column, the ID number shown only masked."""
    config = copy_project(tmp_path / "project")
    _with_template_line(config, "深入推进扫黑险恶常态化（内部资料）。")
    (config.parent / "names.csv").write_text("name,titles,former\n张明,市长,副市长\n",
                                             encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "  starter_lists: true", "  starter_lists: true\n  names: [names.csv]"), encoding="utf-8")
    loaded = config_module.load(config)
    app = preview_app(loaded)
    definition = loaded.config.releases[FOOD]
    assert definition.source is not None
    period = period_of(DUE.date(), definition.source.period, definition.source.period_offset)
    tables = load_source(definition.source, loaded.config.schemas, app.data_dir, period,
                         _data(tmp_path / "data", f"（副市长张明督办，负责人身份证{ID_NUMBER}）"))
    with pytest.raises(ReleaseProblems) as info:
        prepare_release(app, FOOD, release.occurrence_key(FOOD, DUE, app), DUE,
                        index_number="MB0000123/2026-00001", tables=tables, period=period)
    findings = info.value.findings
    for kind in ("wording", "sensitive"):  # template text: every channel, in its body
        assert {(f.channel, f.field) for f in findings if f.kind == kind} == {
            (name, BODY[name]) for name in CHANNELS}, kind
    assert {f.level for f in findings if f.kind == "sensitive"} == {"review"}
    personal = [f for f in findings if f.kind == "personal"]
    assert {f.channel for f in personal} >= {"portal-main", "wechat-main", "gazette-main"}
    cell = str(tmp_path / "data" / "unqualified.csv") + " 第 2 行「被抽样单位地址」列"
    assert all(f.cell is not None and f.cell.label() == cell for f in personal)
    assert all(f.found == "3101**********1234" and f.level == "block" for f in personal)
    names = [f for f in findings if f.kind == "name"]  # a data cell: where it is rendered
    assert {f.channel for f in names} == {f.channel for f in personal}
    assert all(f.found == "副市长张明" and f.cell is not None and f.cell.label() == cell
               for f in names)
    assert ID_NUMBER not in str(info.value)
    assert any("3101**********1234" in p and "被抽样单位地址" in p for p in info.value.problems)


def test_block_finding_holds_the_release_and_nothing_is_sent(tmp_path: Path) -> None:
    """With an ID number in a cell the release is held with the finding listed and no delivery
    exists, so no emulator receives anything; with the cell fixed, the same release publishes."""
    config = copy_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    app = App(loaded=config_module.load(config), store=store, clock=ManualClock(DUE),
              sandbox=True)
    try:
        held = release.create(app, FOOD, DUE, actor="staff:wang", origin="manual",
                              data=_data(tmp_path / "bad", f"，身份证{ID_NUMBER}"))
        assert held.state == "held"
        assert any("个人信息" in p and "3101**********1234" in p for p in held.problems)
        _drain(app)
        with store.read() as session:
            assert session.execute(select(Delivery)).first() is None
            row = session.get(Release, held.release_id)
            assert row is not None and row.hold_reason is not None
            assert {f["kind"] for f in row.hold_reason["findings"]} == {"personal"}
            events = [e.details for e in session.execute(select(AuditEvent).where(
                AuditEvent.action == "release.held")).scalars()]
        assert events and events[0]["findings_summary"]["block"] >= 1
        assert ID_NUMBER not in repr(events) and ID_NUMBER not in repr(row.hold_reason)
        assert _weibo_posts(app) == 0
        assert not list((config.parent / "var" / "site").rglob(f"{FOOD}-*.html"))

        fixed = release.create(app, FOOD, DUE, actor="staff:wang", origin="manual",
                               data=_data(tmp_path / "good", ""))
        assert (fixed.release_id, fixed.state) == (held.release_id, "active")
        _drain(app)
        assert _weibo_posts(app) == 1
        assert list((config.parent / "var" / "site").rglob(f"{FOOD}-*.html"))
    finally:
        app.close()


def _drain(app: App) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(until=app.clock.now() + timedelta(minutes=5))
    finally:
        dispatcher.shutdown()


def _weibo_posts(app: App) -> int:
    base = app.channel("weibo-main").settings.base_url
    reply = requests.get(f"{base.rstrip('/')}/_sandbox/posts", timeout=5)
    reply.raise_for_status()
    return len(reply.json()["posts"])


# --------------------------------------------------------------------------- review and warn


def _listed(project: Path, word: str, level: str) -> None:
    """A sensitive-word list with ``word`` at ``level``, and ``word`` in the weekly template."""
    (project / "checks.csv").write_text(f"word,level\n{word},{level}\n", encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8")
                      + "checks:\n  sensitive: [checks.csv]\n", encoding="utf-8")
    template = project / "templates" / "weekly" / "memory.txt.j2"
    template.write_text(f"{word}\n" + template.read_text(encoding="utf-8"), encoding="utf-8")


def test_review_finding_waits_for_an_approver(project: Path, store: Store,
                                              clock: ManualClock) -> None:
    """A ``review`` word sends a release without ``review: required`` to an approver: nothing
    is sent meanwhile, the due-time hold leaves it waiting, and once another person approves it
    (after its due time) it goes out."""
    _listed(project, "据传", "review")
    MemoryStore.reset()
    app = App(loaded=config_module.load(project / "schedules.yaml"), store=store, clock=clock)
    outcome = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    assert outcome.state == review.AWAITING
    _drain(app)
    clock.advance(minutes=30)
    assert review.hold_unapproved(app) == []
    assert MemoryStore.published("mem-a") == []
    with pytest.raises(review.ReviewRefused):
        review.approve(app, outcome.release_id, actor="staff:wang")
    review.approve(app, outcome.release_id, actor="staff:li")
    _drain(app)
    assert len(MemoryStore.published("mem-a")) == len(MemoryStore.published("mem-b")) == 1
    with store.read() as session:
        row = session.get(Release, outcome.release_id)
        assert row is not None and row.details["findings_summary"]["review"] == 2  # one a channel
    MemoryStore.reset()


def test_warn_finding_is_kept_and_published(project: Path, store: Store,
                                            clock: ManualClock) -> None:
    """A ``warn`` word does not stop the release: it is published and the finding is kept on
    the release, naming the channel and field."""
    _listed(project, "据悉", "warn")
    MemoryStore.reset()
    app = App(loaded=config_module.load(project / "schedules.yaml"), store=store, clock=clock)
    outcome = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    assert outcome.state == "active"
    _drain(app)
    assert len(MemoryStore.published("mem-a")) == 1
    with store.read() as session:
        row = session.get(Release, outcome.release_id)
        assert row is not None
        assert {(f["channel"], f["field"], f["level"]) for f in row.details["findings"]} == {
            ("mem-a", "body", "warn"), ("mem-b", "body", "warn")}
    MemoryStore.reset()
