"""A year of an office's history (2026) made through the real code paths, for the report's tests.

Use ``make_history(root, database_url)``: it writes a project (memory channels, a webhook to a
loopback sink, a gazette, an urgent section), then plays the year on a manual clock: 52 weekly
runs (three late, two missed and recorded, one lost without a record, one that never landed,
failures a person retried or resolved), twelve monthly runs, policy documents with their
interpretations (one a day late, one never), rules through the gazette (a merged issue and an
erratum), a repeal decision, three incidents with updates, a correction and a withdrawal, and a
drill. Every step goes through ``release.create``, the scheduler's catch-up, the dispatcher,
``compile_next``, the urgent functions and the staff interventions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.gazette.issue import queue_erratum
from channels.memory.adapter import MemoryStore
from channels.webhook.sandbox import Sink, serve
from publisher import config as config_module
from publisher import intervention, release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.gazette import compile_next
from publisher.scheduler import Scheduler
from publisher.store import Store
from publisher.store.models import Delivery, Release
from publisher.urgent import (
    UrgentCancel,
    UrgentPost,
    UrgentUpdate,
    cancel_incident,
    open_incident,
    update_incident,
)

ZONE = ZoneInfo("Asia/Shanghai")
YEAR = 2026
ORGAN = "某市市场监督管理局"
POLICY_ORGAN = "某市人民政府办公厅"
NEWS_ORGAN = "某市人民政府新闻办公室"

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
defaults:
  misfire_grace_minutes: 60
  retry_deadline_hours: 24
  workers: 2
  retry: {{attempts_per_claim: 2, initial_wait_seconds: 1, max_wait_seconds: 2,
          sweep_wait_seconds: 5, max_sweep_wait_seconds: 10}}
columns:
  news: 新闻发布
  sampling: 抽检信息
  policy: 政策文件
channels:
  web: {{kind: memory, settings: {{}}}}
  wx: {{kind: memory, settings: {{}}}}
  wb: {{kind: memory, settings: {{}}}}
  hook:
    kind: webhook
    settings: {{url: "{hook_url}"}}
  gz:
    kind: gazette
    settings:
      gazette_name: 某市人民政府公报
      site_name: 某市人民政府
      site_dir: site
      base_url: http://127.0.0.1:8180/
      section_by_release: {{rules: rules, repeal: rules}}
schemas:
  meta:
    columns:
      - {{id: signed, header: 成文日期, type: date}}
releases:
  weekly:
    title: "{{{{ release.published_date }}}}食品安全监督抽检信息"
    issuing_organ: {organ}
    organ_code: "MB0000001"
    subject_category: 市场监管
    column: sampling
    schedule: "0 10 * * wed"
    channels: [web, wx, wb, hook]
  monthly:
    title: "{{{{ release.published_date }}}}价格监测月报"
    issuing_organ: {organ}
    organ_code: "MB0000001"
    subject_category: 价格
    column: news
    schedule: "0 9 1 * *"
    channels: [web, wx]
  policy:
    title: "关于{{{{ release.published_date }}}}的实施意见"
    issuing_organ: {policy_organ}
    organ_code: "MB0000002"
    subject_category: 综合政务
    column: policy
    schedule: manual
    document_type: normative
    signed_date: "{{{{ tables.meta[0].signed }}}}"
    source:
      tables:
        meta: {{path: "meta/{{date:%Y-%m-%d}}.csv", schema: meta}}
    channels: [web, wx]
    interpretation:
      title: "《关于{{{{ release.published_date }}}}的实施意见》政策解读"
      templates: policy-jd
  rules:
    title: "某市管理办法（{{{{ release.published_date }}}}）"
    issuing_organ: {policy_organ}
    organ_code: "MB0000002"
    subject_category: 综合政务
    column: policy
    schedule: manual
    document_type: rule
    signed_date: "{{{{ tables.meta[0].signed }}}}"
    source:
      tables:
        meta: {{path: "meta/{{date:%Y-%m-%d}}.csv", schema: meta}}
    channels: [web, gz]
  repeal:
    title: "关于废止部分规章的决定"
    issuing_organ: {policy_organ}
    organ_code: "MB0000002"
    subject_category: 综合政务
    column: policy
    schedule: manual
    document_type: repeal_rule
    channels: [web]
urgent:
  issuing_organ: {news_organ}
  organ_code: "MB0000999"
  subject_category: 应急管理
  column: news
  channels: [web, wx, wb]
  sender: www.example.gov.cn
report:
  calendar:
    holidays: ["2026-01-01..2026-01-03", "2026-02-15..2026-02-23", "2026-04-04..2026-04-06",
               "2026-05-01..2026-05-05", "2026-06-19..2026-06-21", "2026-09-25..2026-09-27",
               "2026-10-01..2026-10-07"]
    workdays: ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
               "2026-10-10"]
"""

TEMPLATES = {
    "weekly/memory.txt.j2": "本周抽检 {{ release.title }}",
    "weekly/webhook.txt.j2": "{{ release.title }}",
    "monthly/memory.txt.j2": "价格 {{ release.title }}",
    "policy/memory.txt.j2": "文件 {{ release.title }} 成文 {{ release.signed_date }}",
    "policy-jd/memory.txt.j2": "解读 {{ release.title }}",
    "rules/memory.txt.j2": "规章 {{ release.title }}",
    "rules/gazette.html.j2": "<p>{{ release.title }}</p>",
    "repeal/memory.txt.j2": "废止 {{ release.title }}",
    "_urgent/memory.txt.j2": "{% if urgent.step == 'withdrawal' %}撤回：{{ urgent.reason }}"
                             "{% else %}【{{ urgent.area }}】{{ urgent.facts }}{% endif %}",
}


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(YEAR, month, day, hour, minute, tzinfo=ZONE)


def wednesdays() -> list[datetime]:
    day, out = date(YEAR, 1, 1), []
    while day.year == YEAR:
        if day.weekday() == 2:
            out.append(datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZONE))
        day += timedelta(days=1)
    return out


@dataclass
class History:
    """The year as played: the app on its database, and what the scenario did on purpose."""

    app: App
    clock: ManualClock
    sink: Sink
    root: Path
    late_runs: list[datetime] = field(default_factory=list)
    missed_runs: list[datetime] = field(default_factory=list)
    lost_runs: list[datetime] = field(default_factory=list)
    failed_runs: list[datetime] = field(default_factory=list)
    staff_decided: list[int] = field(default_factory=list)  # delivery ids
    late_interpretation: str = ""  # document keys
    missing_interpretation: str = ""
    past_limit_document: str = ""
    incidents: dict[str, str] = field(default_factory=dict)  # name -> incident key
    later: list[tuple[datetime, Callable[[], object]]] = field(default_factory=list)  # added steps


def write_project(root: Path, hook_url: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in TEMPLATES.items():
        path = root / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "inbox" / "meta").mkdir(parents=True, exist_ok=True)
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(hook_url=hook_url, organ=ORGAN, policy_organ=POLICY_ORGAN,
                                    news_organ=NEWS_ORGAN), encoding="utf-8")
    return config


def _drain(app: App, release_id: int | None = None) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(release_id)
    finally:
        dispatcher.shutdown()


@contextmanager
def project_app(root: Path, database_url: str) -> Iterator[tuple[App, ManualClock, Sink]]:
    """The project's App on ``database_url`` with a manual clock and the webhook's sink."""
    MemoryStore.reset()
    sink = serve()
    config = write_project(root, sink.url)
    clock = ManualClock(local(1, 1))
    store = Store(database_url)
    app = App(loaded=config_module.load(config), store=store, clock=clock)
    try:
        yield app, clock, sink
    finally:
        app.close()
        store.dispose()
        sink.stop()
        MemoryStore.reset()


def _create(history: History, definition: str, due: datetime, *, at: datetime | None = None,
            origin: str = "scheduled", signed: date | None = None, drain: bool = True) -> int:
    app, clock = history.app, history.clock
    clock.set(at or due + timedelta(minutes=1))
    data = None
    if signed is not None:
        path = history.root / "inbox" / "meta" / f"{due:%Y-%m-%d}.csv"
        path.write_text(f"成文日期\n{signed.isoformat()}\n", encoding="utf-8")
        data = {"meta": path}
    outcome = release.create(app, definition, due, actor="scheduler" if origin != "manual"
                             else "staff:li", origin=origin, data=data)
    assert outcome.state == "active", outcome.problems
    if drain:
        _drain(app)
    return outcome.release_id


def _deliveries(app: App, release_id: int) -> dict[str, Delivery]:
    with app.store.read() as session:
        return {d.channel: d for d in session.execute(
            select(Delivery).where(Delivery.release_id == release_id)).scalars()}


Step = tuple[datetime, Callable[[], object]]  # what a step returns is not used


def weekly_steps(history: History) -> list[Step]:
    app, clock = history.app, history.clock
    scheduler = Scheduler(app)
    runs = wednesdays()
    late = {runs[5], runs[17], runs[33]}
    missed = {runs[19], runs[20]}
    catch_up_at = runs[21]
    lost = {runs[39]}
    failed = runs[44]
    retried, unknown, transient = runs[8], runs[27], runs[12]
    history.late_runs = sorted(late)
    history.missed_runs = sorted(missed)
    history.lost_runs = sorted(lost)
    history.failed_runs = [failed]
    steps: list[Step] = []

    def restart(due: datetime) -> None:  # the scheduler starts 5 minutes after this run
        clock.set(due + timedelta(minutes=5))
        scheduler.catch_up(local(1, 1))
        _drain(app)

    def refused(due: datetime) -> None:
        for name in ("web", "wx", "wb"):
            MemoryStore.script(name, ["permanent"])
        _create(history, "weekly", due)

    def retry_next_day(due: datetime) -> None:
        MemoryStore.script("wx", ["permanent"])
        release_id = _create(history, "weekly", due)
        delivery = _deliveries(app, release_id)["wx"]
        assert delivery.state == "failed", delivery.state

        def retry() -> None:
            clock.set(due + timedelta(days=1))
            intervention.retry(app, delivery.id, actor="staff:wang")
            history.staff_decided.append(delivery.id)
            _drain(app)
        history.later.append((due + timedelta(days=1), retry))

    def resolve_unknown(due: datetime) -> None:
        MemoryStore.script("wb", ["lost"])  # the answer lost, and no way to look it up
        release_id = _create(history, "weekly", due)
        delivery = _deliveries(app, release_id)["wb"]
        assert delivery.state == "unknown", delivery.state
        clock.set(due + timedelta(hours=2))
        intervention.resolve_published(app, delivery.id, actor="staff:admin",
                                       url="https://weibo.com/1/unknown-resolved")
        history.staff_decided.append(delivery.id)

    def transient_once(due: datetime) -> None:
        MemoryStore.script("web", ["transient"])
        _create(history, "weekly", due)

    for due in runs:
        if due in missed or due in lost:
            continue
        if due == catch_up_at:
            steps.append((due, partial(restart, due)))
        elif due in late:
            steps.append((due, partial(_create, history, "weekly", due,
                                       at=due + timedelta(hours=3), origin="catch-up")))
        elif due == failed:
            steps.append((due, partial(refused, due)))
        elif due == retried:
            steps.append((due, partial(retry_next_day, due)))
        elif due == unknown:
            steps.append((due, partial(resolve_unknown, due)))
        elif due == transient:
            steps.append((due, partial(transient_once, due)))
        else:
            steps.append((due, partial(_create, history, "weekly", due)))
    return steps


def monthly_steps(history: History) -> list[Step]:
    return [(local(month, 1, 9), partial(_create, history, "monthly", local(month, 1, 9)))
            for month in range(1, 13)]


def document_steps(history: History) -> list[Step]:
    app, clock = history.app, history.clock
    steps: list[Step] = []
    # a policy document with its interpretation, together
    together = local(3, 10, 15)
    steps.append((together, partial(_create, history, "policy", together, origin="manual",
                                     signed=date(YEAR, 3, 3))))
    # the interpretation a day late: only the document is sent, the rest the next day
    late = local(5, 14, 15)
    history.late_interpretation = release.occurrence_key("policy", late, app)

    def document_only(due: datetime, signed: date) -> int:
        document = _create(history, "policy", due, origin="manual", signed=signed, drain=False)
        _drain(app, document)
        return document

    def next_morning() -> None:  # inside the release's 24-hour retry deadline
        clock.set(late + timedelta(hours=18))
        _drain(app)
    steps.append((late, partial(document_only, late, date(YEAR, 5, 8))))
    steps.append((late + timedelta(hours=18), next_morning))
    # past 20 working days from 成文日期 (signed 2026-07-01, published 2026-08-20)
    slow = local(8, 20, 15)
    history.past_limit_document = release.occurrence_key("policy", slow, app)
    steps.append((slow, partial(_create, history, "policy", slow, origin="manual",
                                signed=date(YEAR, 7, 1))))
    # an interpretation that never went out: every channel refuses it
    never = local(11, 18, 15)
    history.missing_interpretation = release.occurrence_key("policy", never, app)

    def refused_interpretation() -> None:
        document_only(never, date(YEAR, 11, 16))
        for name in ("web", "wx"):
            MemoryStore.script(name, ["permanent"])
        _drain(app)
    steps.append((never, refused_interpretation))
    return steps


def gazette_steps(history: History) -> list[Step]:
    app, clock = history.app, history.clock

    def compile_at(when: datetime, merged: int = 1) -> None:
        clock.set(when)
        compile_next(app, "gz", actor="scheduler", merged=merged)

    def erratum() -> None:
        clock.set(local(5, 27, 9))
        with app.store.read() as session:
            first = session.execute(select(Delivery).where(
                Delivery.channel == "gz", Delivery.state == "published")
                .order_by(Delivery.id)).scalars().first()
        assert first is not None
        queue_erratum(app.channel("gz").gazette,  # type: ignore[attr-defined]
                      first.idempotency_key, "<p>第三条“三十日”应为“二十日”。</p>", clock.now())

    rules = [(local(2, 10, 11), date(YEAR, 2, 6)), (local(5, 26, 11), date(YEAR, 5, 20)),
             (local(10, 12, 11), date(YEAR, 9, 10))]
    steps: list[Step] = [(due, partial(_create, history, "rules", due, origin="manual",
                                       signed=signed)) for due, signed in rules]
    steps += [(local(2, 20, 9), partial(compile_at, local(2, 20, 9))),
              (local(5, 27, 9), erratum),
              (local(6, 5, 9), partial(compile_at, local(6, 5, 9), 2)),  # 第2、3期, merged
              (local(10, 20, 9), partial(compile_at, local(10, 20, 9)))]
    steps.append((local(12, 1, 11), partial(_create, history, "repeal", local(12, 1, 11),
                                            origin="manual")))
    return steps


def incident_steps(history: History) -> list[Step]:
    app, clock = history.app, history.clock
    keys: dict[str, str] = history.incidents

    def at(when: datetime, action: Callable[[], object]) -> Step:
        def run() -> None:
            clock.set(when)
            action()
            _drain(app)
        return when, run

    def opened(name: str, post: UrgentPost, actor: str) -> Callable[[], None]:
        def run() -> None:
            keys[name] = open_incident(app, post, actor=actor).incident_key
        return run

    return [
        at(local(3, 14, 10, 5), opened("bridge", UrgentPost(
            title="某高架桥发生垮塌", facts="今日9时40分，某高架桥一段桥面垮塌。",
            area="某区某高架桥", severity="较大", event_at=local(3, 14, 9, 40)), "staff:zhao")),
        at(local(3, 14, 11, 5), lambda: update_incident(
            app, keys["bridge"], UrgentUpdate(facts="现场已封闭。"), actor="staff:zhao")),
        at(local(3, 14, 13, 5), lambda: update_incident(
            app, keys["bridge"], UrgentUpdate(facts="3人受伤送医。"), actor="staff:zhao")),
        at(local(7, 8, 15, 30), opened("fire", UrgentPost(
            title="某化工厂火灾", facts="14时许某化工厂起火。", area="某工业园区",
            severity="重大", event_at=local(7, 8, 14, 0)), "staff:qian")),
        at(local(7, 8, 17, 0), lambda: update_incident(
            app, keys["fire"], UrgentUpdate(facts="明火已扑灭。"), actor="staff:qian")),
        at(local(7, 8, 18, 0), lambda: update_incident(
            app, keys["fire"], UrgentUpdate(facts="无人员伤亡。", correction="此前“1人受伤”有误"),
            actor="staff:qian")),
        at(local(9, 16, 10, 0), opened("drill", UrgentPost(
            title="地震应急演练", facts="演练。", area="全市", severity="一般",
            status="Exercise"), "staff:sun")),
        at(local(11, 2, 8, 0), opened("flood", UrgentPost(
            title="某路段积水", facts="某路段积水严重。", area="某路", severity="较大"),
            "staff:sun")),
        at(local(11, 2, 9, 0), lambda: update_incident(
            app, keys["flood"], UrgentUpdate(facts="积水已排除。"), actor="staff:sun")),
        at(local(11, 2, 10, 0), lambda: cancel_incident(
            app, keys["flood"], UrgentCancel(reason="信息有误"), actor="staff:sun")),
    ]


def play_year(app: App, clock: ManualClock, sink: Sink, root: Path) -> History:
    """Play 2026 in time order; the clock ends on 2027-01-05 (the report is made after it)."""
    history = History(app, clock, sink, root)
    clock.set(local(1, 1))
    Scheduler(app)._first_started()
    steps = [*monthly_steps(history), *weekly_steps(history), *document_steps(history),
             *gazette_steps(history), *incident_steps(history)]
    done = 0
    while done < len(steps):  # a step may add a later one (a retry the next day)
        steps += history.later
        history.later.clear()
        steps[done:] = sorted(steps[done:], key=lambda step: step[0])
        steps[done][1]()
        done += 1
    clock.set(datetime(YEAR + 1, 1, 5, 9, 0, tzinfo=ZONE))
    return history


def releases_by_key(app: App) -> dict[str, Release]:
    with app.store.read() as session:
        return {r.key: r for r in session.execute(select(Release)).scalars()}


# --------------------------------------------------------------------------- the fixture


def _pg_history_database() -> Iterator[str]:
    from tests.support.pg import own_database

    with own_database("publisher_report") as url:
        yield url


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[History]:
    """The year 2026 played once per database (SQLite, PostgreSQL) for every report test; the
    tests only read it (signing in to the console adds audit events, nothing else)."""
    root = tmp_path_factory.mktemp(f"history-{request.param}")
    databases = (_pg_history_database() if request.param == "postgresql"
                 else iter([f"sqlite:///{root / 'publisher.db'}"]))
    url = next(databases)
    try:
        with project_app(root / "project", url) as (app, clock, sink):
            yield play_year(app, clock, sink, root / "project")
    finally:
        databases.close() if hasattr(databases, "close") else None
