"""A delivery's history and a release's outcome, read alike by the console (real server) and the CLI
(real entry point) from the same rows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import intervention, release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.history import Event, tries
from publisher.outcome import derive
from publisher.store import Store
from publisher.store.models import Delivery, Incident, Release
from tests.support.console import Console
from tests.support.project import REVIEWED

PUBLISHER = str(Path(sys.executable).parent / "publisher")
DEADLINE_ZH = "超过发布截止时间"


def cli(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    """``publisher ARGS`` on the App's config and database; never raises on exit codes."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": app.store.url}
    env.pop("PUBLISHER_CONFIG", None)
    return subprocess.run([PUBLISHER, *args, "--config", str(app.loaded.file)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def _drain(app: App) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(until=app.clock.now() + timedelta(minutes=1))
    finally:
        dispatcher.shutdown()


def _deliveries(app: App, release_id: int) -> dict[str, Delivery]:
    with app.store.read() as session:
        return {d.channel: d for d in session.execute(
            select(Delivery).where(Delivery.release_id == release_id)).scalars()}


@pytest.fixture
def console_app(project: Path, store: Store, clock: ManualClock) -> Iterator[App]:
    """The small project, with a definition that needs review."""
    path = project / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + REVIEWED, encoding="utf-8")
    MemoryStore.reset()
    yield App(loaded=config_module.load(path), store=store, clock=clock)
    MemoryStore.reset()


def test_after_a_retry_the_cli_and_the_console_show_the_second_claim_and_its_reason(
        console: Console) -> None:
    """A delivery refused for good, retried by hand and then held back by its deadline (no try
    at all) shows that second claim and its real reason in `publisher log --delivery` (JSON and
    table) and in `publisher log`, not the first error, and the console's delivery page lists
    the same tries with the same decisions."""
    app = console.app
    assert isinstance(app.clock, ManualClock)
    MemoryStore.script("mem-a", ["permanent"])
    outcome = release.create(app, "weekly", app.clock.now(), actor="staff:wang", origin="manual")
    _drain(app)
    failed = _deliveries(app, outcome.release_id)["mem-a"]
    assert failed.state == "failed" and failed.attempts == 1
    intervention.retry(app, failed.id, actor="staff:wang")
    with app.store.read() as session:
        deadline = session.get(Release, outcome.release_id).deadline_at  # type: ignore[union-attr]
    app.clock.set(deadline + timedelta(minutes=1))  # the daemon was down past the deadline
    _drain(app)
    assert _deliveries(app, outcome.release_id)["mem-a"].state == "failed"

    shown = cli(app, "log", "--delivery", str(failed.id), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    story = json.loads(shown.stdout)
    assert DEADLINE_ZH in story["delivery"]["detail"]
    assert [(a["attempt"], a["outcome"], a["decision"]) for a in story["attempts"]] == [
        (1, "permanent", "failed"), (None, "no_try", "failed")]
    assert DEADLINE_ZH in story["attempts"][1]["explanation_zh"]
    (retried,) = [e for e in story["audit"] if e["action"] == "delivery.retry"]
    assert retried["actor"] == "staff:wang" and "was failed" in retried["note"]
    assert DEADLINE_ZH in story["audit"][-1]["note"]
    table = cli(app, "log", "--delivery", str(failed.id))
    assert table.returncode == 0, table.stderr
    assert table.stdout.count(DEADLINE_ZH) >= 2  # the state now, and the claim's row
    assert "本轮未尝试发送 / no try in this claim" in table.stdout and "#1" in table.stdout
    (listed,) = [json.loads(line) for line in cli(app, "log", "--format", "json", "--channel",
                                                  "mem-a").stdout.splitlines()]
    assert DEADLINE_ZH in listed["detail"]

    page = console.signed_in("viewer").get(f"/deliveries/{failed.id}").text
    outcomes = re.findall(r'data-outcome="([a-z_]+)"', page)
    decisions = re.findall(r'data-decision="decision\.([a-z_]+)"', page)
    assert outcomes == [a["outcome"] for a in story["attempts"]]
    assert decisions == [a["decision"] for a in story["attempts"]]
    assert page.count(DEADLINE_ZH) >= 3  # the detail, the claim's row, its audit event


def _release_rows(app: App) -> dict[str, dict[str, Any]]:
    result = cli(app, "releases", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["release"]: row for row in map(json.loads, result.stdout.splitlines())}


def _outcome_on_page(text: str, key: str) -> str:
    row = text[text.index(f'data-release="{key}"'):]
    found = re.search(r'data-release-outcome="([a-z_]+)"', row)
    assert found, key
    return found.group(1)


def test_each_release_shows_its_outcome_alike_on_the_overview_its_page_and_the_cli(
        console: Console) -> None:
    """A release fully published reads 已完成, one with a failed channel 部分失败 naming that
    channel, one still sending 进行中, one awaiting approval 待审核, one held 已暂停 and one of a
    withdrawn incident 已撤回 — on the overview, on each release page and in `publisher
    releases` — instead of every active release reading 进行中."""
    app = console.app
    assert isinstance(app.clock, ManualClock)
    clock = app.clock
    done = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    _drain(app)
    MemoryStore.script("mem-b", ["permanent"])
    (app.loaded.root / "inbox" / "weekly" / "2026-W50.csv").write_text(
        "项目,数量\n苹果,3\n", encoding="utf-8")
    partial = release.create(app, "weekly", clock.now() + timedelta(days=7), actor="staff:wang",
                             origin="manual")
    clock.advance(days=7)
    _drain(app)
    held = release.create(app, "weekly", clock.now() + timedelta(days=7), actor="staff:wang",
                          origin="manual")  # no data for week 51
    (app.loaded.root / "inbox" / "weekly" / "2026-W52.csv").write_text(
        "项目,数量\n梨,1\n", encoding="utf-8")
    running = release.create(app, "weekly", clock.now() + timedelta(days=14),
                             actor="staff:wang", origin="manual")  # not drained: pending
    awaiting = release.create(app, "reviewed", clock.now() + timedelta(hours=3),
                              actor="staff:wang", origin="manual")
    with app.store.write() as session:  # an incident withdrawn after its post was retracted
        incident = Incident(key="inc-1", title="演练", area="某区", severity="Minor",
                            status="withdrawn", drill=True, opened_at=clock.now(),
                            opened_by="staff:zhao")
        session.add(incident)
        session.flush()
        session.execute(update(Release).where(Release.id == done.release_id)
                        .values(incident_id=incident.id))
    expected = {done.key: "withdrawn", partial.key: "partial", held.key: "held",
                running.key: "in_progress", awaiting.key: "awaiting_approval"}
    assert len(set(expected)) == 5 and held.state == "held"

    rows = _release_rows(app)
    assert {key: rows[key]["outcome"] for key in expected} == expected
    assert rows[partial.key]["failing"] == [{"channel": "mem-b", "state": "failed"}]
    assert rows[partial.key]["outcome_zh"] == "部分失败"
    table = cli(app, "releases").stdout
    assert "部分失败：mem-b（失败） / partly failed: mem-b (failed)" in table
    viewer = console.signed_in("viewer")
    overview = viewer.get("/").text
    recent = overview[overview.index('data-table="recent"'):]
    assert {key: _outcome_on_page(recent, key) for key in expected} == expected
    assert 'data-failing="mem-b"' in recent and 'data-waiting="mem-a mem-b"' in recent
    for key, outcome_key in expected.items():
        page = viewer.get(f"/releases/{rows[key]['release_id']}").text
        heading = page[page.index("<h1>"):page.index("</h1>")]
        assert f'data-release-outcome="{outcome_key}"' in heading, key

    with app.store.write() as session:  # the incident link was only for this test: now none
        session.execute(update(Release).where(Release.id == done.release_id)
                        .values(incident_id=None))
    assert _release_rows(app)[done.key]["outcome"] == "completed"
    assert _outcome_on_page(viewer.get("/").text.split('data-table="recent"')[1],
                            done.key) == "completed"


def test_outcome_follows_the_delivery_states() -> None:
    """Outstanding deliveries mean 进行中 (failures so far named), a retracted post 已撤回, only
    failures 全部失败, nothing sent at all 无投递, and a release not active keeps its state."""
    assert derive("active", [("a", "send", "published"), ("b", "send", "retry_wait"),
                             ("c", "send", "failed")]).key == "in_progress"
    assert derive("active", [("a", "send", "retracted"), ("b", "send", "published")]
                  ).key == "withdrawn"
    failed = derive("active", [("a", "send", "failed"), ("b", "send", "unknown")])
    assert failed.key == "failed" and failed.failing == (("a", "failed"), ("b", "unknown"))
    assert failed.describe() == "全部失败：a（失败）、b（结果不明） / failed: a (failed), b (unknown)"
    waiting = derive("active", [("a", "send", "queued"), ("b", "send", "published")])
    assert waiting.key == "in_progress" and waiting.named == (("a", "queued"),)
    assert waiting.describe() == "进行中：a（排队待刊） / in progress: a (queued)"
    assert derive("active", []).key == "no_deliveries"
    assert derive("rejected", [("a", "send", "failed")]).key == "rejected"
    assert derive("active", [("a", "send", "published")]).key == "completed"


def test_a_claim_ended_by_another_worker_reads_interrupted_not_unsent() -> None:
    """A claim whose process died (reconciled by another worker) has no try recorded but may have
    sent: its row says interrupted, with what reconciling found; a claim refused by the
    deadline without a claim event reads no try."""
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    events = [
        Event(1, at, "staff:wang", "delivery.pending"),
        Event(2, at, "host:1:a", "delivery.sending", {"claim": 1}),
        Event(3, at + timedelta(minutes=1), "host:2:b", "delivery.published",
              {"reason": "重启后核实：已发布 / confirmed after restart: it had landed"}),
        Event(4, at + timedelta(hours=3), "host:2:b", "delivery.failed",
              {"reason": "超过发布截止时间 / retry deadline passed"}),
    ]
    found = tries([], events)
    assert [(t.outcome, t.decision.name if t.decision else None) for t in found] == [
        ("interrupted", "published"), ("no_try", "failed")]
    assert found[0].explanation_en == "confirmed after restart: it had landed"
