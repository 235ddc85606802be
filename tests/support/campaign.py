"""A crash-and-fault campaign: ``publisher run`` killed again and again while releases go out.

The emulators run in their own process (tests/support/emulators.py), each behind a fault
proxy that delays, answers late, drops answers, resets and fails a share of the requests.
The bot is a real ``publisher run`` subprocess on a project whose release falls due every
few seconds (a six-field cron on the real clock) and into which urgent posts are filed with
``publisher urgent``; it is SIGKILLed at random moments and restarted, again and again. Then
the faults stop, one last daemon settles what is left and is stopped, and every publication
is counted at the emulators (the static portal: pages on disk):

- nothing lost: each release × channel is published exactly once at its emulator, or ended
  ``failed`` with a recorded reason and nothing live there;
- nothing twice: no emulator holds two live copies of one release, or one nobody recorded;
- every fire time between the first start and the last stop is a release or a recorded
  missed run.

Everything random comes from one seed, printed first, so a failure can be replayed:
``python -m tests.support.campaign --seed N --kills 40 --database sqlite``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select

from channels.gazette.state import load_state
from publisher.cron import cron_trigger
from publisher.scheduler import fire_times
from publisher.store import Store
from publisher.store.models import BotState, Delivery, Release

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = str(Path(sys.executable).parent / "publisher")
ZONE = ZoneInfo("Asia/Shanghai")
PG_ADMIN = os.environ.get("PUBLISHER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SETTLED = ("published", "failed", "retracted", "queued")
KINDS = ("portal", "webhook", "wordpress", "weibo", "wechat", "gazette")
URGENT_KINDS = ("portal", "webhook", "weibo", "wechat")  # no urgent template for WordPress
STARTED = '"event": "run.started"'

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: 4
  urgent_workers: 4
  retry: {{attempts_per_claim: 2, initial_wait_seconds: 0.2, max_wait_seconds: 1,
          sweep_wait_seconds: 1, max_sweep_wait_seconds: 3}}
  urgent_retry: {{attempts_per_claim: 2, initial_wait_seconds: 0.2, max_wait_seconds: 1,
                 sweep_wait_seconds: 1, max_sweep_wait_seconds: 3}}
columns: {{news: 新闻, emergency: 突发事件}}
channels:
  portal:
    kind: portal
    settings: {{site_name: 演练门户, site_dir: site, base_url: "http://127.0.0.1:8180/"}}
  webhook:
    kind: webhook
    settings: {{url: "{webhook[url]}", token: "${{SINK_TOKEN}}",
               timeout_seconds: {timeout}}}
  wordpress:
    kind: wordpress
    settings: {{base_url: "{wordpress[url]}", username: {wordpress[username]},
               application_password: "${{WP_PASSWORD}}", timeout_seconds: {timeout},
               settle_seconds: {settle}}}
  weibo:
    kind: weibo
    settings: {{base_url: "{weibo[url]}", access_token: "${{WEIBO_TOKEN}}",
               link_base_url: "http://127.0.0.1:8180/", rip: 127.0.0.1, posts_per_hour: 1000,
               timeout_seconds: {timeout}}}
  wechat:
    kind: wechat
    settings: {{base_url: "{wechat[url]}", app_id: {wechat[app_id]},
               app_secret: "${{WECHAT_SECRET}}", portal_base_url: "http://127.0.0.1:8180/",
               cover_image: templates/_layouts/wechat-cover.jpg, timeout_seconds: {timeout},
               settle_seconds: {settle}, find_budget_seconds: {settle}}}
  gazette:
    kind: gazette
    settings: {{gazette_name: 演练公报, site_name: 演练门户, site_dir: site,
               base_url: "http://127.0.0.1:8180/", publication_days: [5, 20]}}
urgent:
  issuing_organ: 演练新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务\\应急管理
  column: emergency
  channels: [{urgent_channels}]
  sender: campaign.example.gov.cn
  retry_deadline_hours: 1
releases:
  tick:
    title: "例行发布〔{{{{ release.key[5:] }}}}〕"  # the whole time: no two alike (Weibo 20017)
    issuing_organ: 演练局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "*/{every} * * * * *"
    channels: [{channels}]
"""
TEMPLATES = {
    "portal.html.j2": "<p>{{ release.title }}：例行演练内容。</p>",
    "webhook.txt.j2": "{{ release.title }}：例行演练内容。",
    "wordpress.html.j2": "<p>{{ release.title }}：例行演练内容。</p>",
    "weibo.txt.j2": "{{ release.title }}：例行演练内容。",
    "wechat.html.j2": "<p>{{ release.title }}：例行演练内容。</p>",
    "gazette.html.j2": "<p>{{ release.title }}：例行演练内容。</p>",
}


@dataclass
class Plan:
    """How big and how rough a campaign is; ``seed`` decides every random choice."""

    seed: int
    kills: int
    fault_rate: float = 0.2
    database: str = "sqlite"  # or "postgresql" (PUBLISHER_TEST_PG's server, own database)
    every_seconds: int = 4  # the release's cron: a fire time every this many seconds
    timeout_seconds: float = 2.0  # the bot's HTTP timeout
    held_seconds: float = 4.0  # delay / late_answer hold a request this long (> timeout)
    settle_seconds: float = 8.0  # an unknown create is looked for after this (> held)
    up_seconds: tuple[float, float] = (0.0, 8.0)  # a daemon runs this long, then SIGKILL
    startup_kill_chance: float = 0.15  # ...or is killed while it starts
    down_seconds: tuple[float, float] = (0.0, 4.0)  # then stays down this long
    urgent_chance: float = 0.5  # of an urgent post being filed while a daemon runs
    settle_limit_seconds: float = 420.0  # the last daemon's time to settle everything


@dataclass
class Result:
    """What was counted; ``violations`` lists every broken guarantee, by kind."""

    plan: Plan
    kills: int = 0
    starts: int = 0
    releases: Counter[str] = field(default_factory=Counter)  # by state
    deliveries: Counter[str] = field(default_factory=Counter)  # by state
    urgent_filed: int = 0
    urgent_refused: list[str] = field(default_factory=list)
    fire_times: int = 0
    missed_runs: int = 0
    publications: Counter[str] = field(default_factory=Counter)  # live, by kind
    removed_copies: Counter[str] = field(default_factory=Counter)  # extra copies taken down
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    log: Path | None = None

    def violate(self, kind: str, text: str) -> None:
        self.violations.setdefault(kind, []).append(text)

    def count(self, kind: str) -> int:
        return len(self.violations.get(kind, []))

    def table(self) -> str:
        """The summary printed at the end of a campaign."""
        p = self.plan
        faults = Counter[str]()
        for per_kind in self.faults.values():
            faults.update(per_kind)
        lines = [
            f"campaign seed={p.seed} database={p.database} fault_rate={p.fault_rate:.0%} "
            f"({self.seconds:.0f} s; log {self.log})",
            f"  {'kills (SIGKILL)':<28}{self.kills:>8}",
            f"  {'daemon starts':<28}{self.starts:>8}",
            f"  {'fire times':<28}{self.fire_times:>8}",
            f"  {'  of which missed (recorded)':<28}{self.missed_runs:>8}",
            f"  {'urgent posts filed':<28}{self.urgent_filed:>8}",
            f"  {'releases':<28}{sum(self.releases.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.releases.items())),
            f"  {'deliveries':<28}{sum(self.deliveries.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.deliveries.items())),
            f"  {'live at the emulators':<28}{sum(self.publications.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.publications.items())),
            f"  {'copies made and removed':<28}{sum(self.removed_copies.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.removed_copies.items())),
            f"  {'requests through proxies':<28}{faults['requests']:>8}",
            f"  {'faults injected':<28}{sum(faults[f] for f in FAULT_NAMES):>8}  "
            + " ".join(f"{f}={faults[f]}" for f in FAULT_NAMES),
        ]
        for kind in VIOLATIONS:
            lines.append(f"  {kind:<28}{self.count(kind):>8}")
        for kind, items in self.violations.items():
            for item in items[:20]:
                lines.append(f"    {kind}: {item}")
            if len(items) > 20:
                lines.append(f"    {kind}: … {len(items) - 20} more")
        lines.append(f"replay: python -m tests.support.campaign --seed {p.seed} --kills {p.kills} "
                     f"--fault-rate {p.fault_rate} --database {p.database}")
        return "\n".join(lines)


FAULT_NAMES = ("delay", "late_answer", "drop", "reset", "error")
VIOLATIONS = ("lost", "duplicates", "unrecorded", "unsettled", "no reason",
              "fire times unaccounted")


# --------------------------------------------------------------------------- processes


@contextmanager
def emulators(plan: Plan, log: Path) -> Iterator[dict[str, Any]]:
    """The emulators' own process; yields its description (URLs, credentials, control)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.emulators", "--seed", str(plan.seed),
         "--fault-rate", str(plan.fault_rate), "--held-seconds", str(plan.held_seconds)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("ab"), text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulators did not start (see {log})")
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def database(plan: Plan, folder: Path) -> Iterator[str]:
    """The campaign's own database: a SQLite file, or a PostgreSQL database dropped after."""
    if plan.database == "sqlite":
        yield f"sqlite:///{folder / 'bot.db'}"
        return
    import psycopg

    name = f"publisher_campaign_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"),
                            autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def project(folder: Path, described: dict[str, Any], plan: Plan) -> Path:
    """The bot's project: one release every few seconds on every channel, urgent posts too."""
    templates = folder / "templates"
    shutil.copytree(ROOT / "templates" / "_layouts", templates / "_layouts")
    shutil.copytree(ROOT / "templates" / "_urgent", templates / "_urgent")
    (templates / "tick").mkdir()
    for name, text in TEMPLATES.items():
        (templates / "tick" / name).write_text(text, encoding="utf-8")
    (folder / "inbox").mkdir()
    config = folder / "schedules.yaml"
    config.write_text(CONFIG.format(
        every=plan.every_seconds, timeout=plan.timeout_seconds, settle=plan.settle_seconds,
        channels=", ".join(KINDS), urgent_channels=", ".join(URGENT_KINDS), **described),
        encoding="utf-8")
    return config


@dataclass
class Bot:
    """How to start ``publisher run`` and ``publisher urgent`` on the campaign's project."""

    config: Path
    env: dict[str, str]
    log: Path

    def starts(self) -> int:
        """How many daemons have said ``run.started`` so far."""
        if not self.log.exists():
            return 0
        return self.log.read_text(encoding="utf-8", errors="replace").count(STARTED)

    def wait_started(self, daemon: subprocess.Popen[bytes], before: int, seconds: float) -> bool:
        """Wait until ``daemon`` says ``run.started`` (``before`` had been said until then)."""
        _wait(lambda: self.starts() > before or daemon.poll() is not None, seconds)
        return self.starts() > before

    def start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [PUBLISHER, "run", "--config", str(self.config), "--no-serve", "--no-web",
             "--poll-seconds", "0.2", "--json-logs"],
            env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            cwd=self.config.parent)

    def urgent(self, number: int, seed: int) -> subprocess.Popen[bytes]:
        """File urgent post ``number`` (the daemon sends it); its title is unique."""
        return subprocess.Popen(
            [PUBLISHER, "urgent", "--config", str(self.config), "--yes", "--no-send",
             "--title", f"演练事件〔{seed}-{number:04d}〕", "--facts",
             f"第{number}次演练：某区某路段临时封闭，现场已有人员处置。", "--area", "某区某路段",
             "--severity", "一般", "--status", "Actual", "--instruction", "请绕行。"],
            env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            cwd=self.config.parent)


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


# --------------------------------------------------------------------------- the campaign


def run(plan: Plan, folder: Path, say: Callable[[str], None] = print) -> Result:
    """Run the campaign in ``folder`` and count what it did (see the module's docstring)."""
    rng = random.Random(plan.seed)
    result = Result(plan, log=folder / "campaign.log")
    assert result.log is not None
    started = time.monotonic()
    say(f"campaign seed={plan.seed} kills={plan.kills} fault_rate={plan.fault_rate} "
        f"database={plan.database} in {folder}")
    with emulators(plan, result.log) as described, database(plan, folder) as url:
        config = project(folder, described, plan)
        Store(url).dispose()  # migrated once, before the first daemon
        env = {**os.environ, "PUBLISHER_DATABASE_URL": url,
               "SINK_TOKEN": described["webhook"]["token"],
               "WP_PASSWORD": described["wordpress"]["password"],
               "WEIBO_TOKEN": described["weibo"]["token"],
               "WECHAT_SECRET": described["wechat"]["secret"]}
        env.pop("PUBLISHER_CONFIG", None)
        bot = Bot(config, env, result.log)
        filers: list[tuple[int, subprocess.Popen[bytes]]] = []
        for _ in range(plan.kills):
            before = bot.starts()
            daemon = bot.start()
            result.starts += 1
            if rng.random() < plan.startup_kill_chance:  # while it opens, migrates, catches up
                up = rng.uniform(0.2, 3.0)
            else:  # once it runs: sends in flight
                bot.wait_started(daemon, before, 90)
                up = rng.uniform(*plan.up_seconds)
            if rng.random() < plan.urgent_chance:
                at = rng.uniform(0, up)
                time.sleep(at)
                result.urgent_filed += 1
                filers.append((result.urgent_filed, bot.urgent(result.urgent_filed, plan.seed)))
                up -= at
            time.sleep(max(0.0, up))
            if daemon.poll() is not None:
                result.violate("unsettled", f"a daemon exited {daemon.returncode} by itself")
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(30)
            result.kills += 1
            time.sleep(rng.uniform(*plan.down_seconds))
            if result.kills % 10 == 0:
                say(f"  {result.kills} kills, {time.monotonic() - started:.0f} s")
        for number, filer in filers:
            if filer.wait(120) != 0:
                result.urgent_refused.append(f"urgent {number} exited {filer.returncode}")
        control = described["control"]
        requests.post(f"{control}/rate", json={"rate": 0.0}, timeout=10).raise_for_status()
        result.faults = requests.get(f"{control}/faults", timeout=10).json()
        store = Store(url, migrate=False)
        try:
            cut, stopped_at = _settle(plan, bot, store, result, say)
            _count(plan, store, folder, requests.get(f"{control}/published", timeout=30).json(),
                   cut, stopped_at, result)
        finally:
            store.dispose()
    result.seconds = time.monotonic() - started
    for refused in result.urgent_refused:
        result.violate("lost", refused)
    return result


def _settle(plan: Plan, bot: Bot, store: Store, result: Result,
            say: Callable[[str], None]) -> tuple[datetime, datetime]:
    """Start the last daemon (no more faults) and stop it once every release made before it
    started has settled; returns when it started and when it was stopped."""
    before = bot.starts()
    daemon = bot.start()
    result.starts += 1
    try:
        if not bot.wait_started(daemon, before, 120):
            result.violate("unsettled", "the last daemon did not start")
        cut = datetime.now(UTC)
        def settled() -> bool:
            with store.read() as session:
                open_ = session.execute(
                    select(Delivery.id).join(Release, Release.id == Delivery.release_id)
                    .where(Release.created_at <= cut, Delivery.state.not_in(SETTLED))
                    .limit(1)).first()
            return open_ is None
        if not _wait(settled, plan.settle_limit_seconds):
            say(f"  not settled after {plan.settle_limit_seconds:.0f} s")
        stopped_at = datetime.now(UTC)
        daemon.send_signal(signal.SIGTERM)
        if daemon.wait(60) != 0:
            result.violate("unsettled", f"the last daemon exited {daemon.returncode}")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(30)
    return cut, stopped_at


def _portal_pages(folder: Path) -> list[dict[str, Any]]:
    """The static portal's article pages (not its indexes), as publications."""
    pages = []
    for page in sorted((folder / "site").glob("*/*.html")):
        if page.name.startswith("index"):
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"<title>(.*?)</title>", text, re.S)
        pages.append({"text": match.group(1) if match else text, "path": str(page),
                      "live": True})
    return pages


def _gazette_items(folder: Path) -> list[dict[str, Any]]:
    """The gazette's queued and published items (its state file), as publications."""
    state = load_state(folder / "site")
    items = [*state.queue, *(item for issue in state.issues for item in issue.items)]
    return [{"text": item.title, "id": item.item_id, "live": True} for item in items]


def _count(plan: Plan, store: Store, folder: Path, published: dict[str, list[dict[str, Any]]],
           cut: datetime, stopped_at: datetime, result: Result) -> None:
    """Match every delivery with what its emulator holds, and every fire time with a row."""
    published = {**published, "portal": _portal_pages(folder), "gazette": _gazette_items(folder)}
    with store.read() as session:
        releases = list(session.execute(select(Release)).scalars())
        deliveries = list(session.execute(select(Delivery)).scalars())
        first = session.get(BotState, "scheduler_first_started")
    by_release: dict[int, list[Delivery]] = {}
    for d in deliveries:
        by_release.setdefault(d.release_id, []).append(d)
        result.deliveries[d.state] += 1
    titles = [r.title for r in releases if r.title]
    claimed: dict[str, set[int]] = {kind: set() for kind in published}
    for r in releases:
        result.releases[r.state] += 1
        for d in by_release.get(r.id, []):
            items = published.get(d.kind, [])
            mine = [i for i, item in enumerate(items) if r.title and r.title in item["text"]]
            claimed.setdefault(d.kind, set()).update(mine)
            live = [items[i] for i in mine if items[i]["live"]]
            result.removed_copies[d.kind] += len(mine) - len(live)
            where = f"{r.key} × {d.channel} (delivery {d.id}, {d.state})"
            if len(live) > 1:
                result.violate("duplicates", f"{where}: {len(live)} live copies")
            if d.state == "published" and not live:
                result.violate("lost", f"{where}: recorded published, not at the emulator")
            elif d.state == "failed" and live:
                result.violate("unrecorded", f"{where}: recorded failed, live at the emulator")
            elif d.state == "failed" and not (d.reason or d.last_error):
                result.violate("no reason", f"{where}: failed without a recorded reason")
            elif d.state not in SETTLED and r.created_at <= cut:
                result.violate("unsettled", f"{where}: still {d.state}"
                               + (f" ({d.reason})" if d.reason else ""))
    for kind, items in published.items():
        for i, item in enumerate(items):
            if i not in claimed.get(kind, set()) and item["live"]:
                owner = next((t for t in titles if t in item["text"]), None)
                result.violate("unrecorded", f"{kind}: {item['text'][:60]!r} belongs to no "
                               f"delivery" + (f" (release {owner})" if owner else ""))
            elif item["live"]:
                result.publications[kind] += 1
    if first is None:
        result.violate("fire times unaccounted", "no scheduler ever started")
        return
    trigger = cron_trigger(f"*/{plan.every_seconds} * * * * *", ZONE)
    since = datetime.fromisoformat(first.value)
    until = stopped_at - timedelta(seconds=1)  # a fire time at the very stop may be cut off
    keys = {r.key for r in releases}
    result.missed_runs = sum(1 for r in releases if r.state == "missed")
    for when in fire_times(trigger, since, until):
        result.fire_times += 1
        local = when.astimezone(ZONE)
        key = f"tick@{local.isoformat(timespec='seconds' if local.second else 'minutes')}"
        if key not in keys:
            result.violate("fire times unaccounted", f"{key}: neither released nor missed")


def main(argv: list[str] | None = None) -> None:
    """Run one campaign, print its summary table; exit 1 on any violation."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.campaign")
    parser.add_argument("--seed", type=int, default=None, help="default: a new random seed")
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work folder (kept; default: a new one under var/campaign)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    folder = args.dir or ROOT / "var" / "campaign" / f"{args.database}-{seed}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    result = run(Plan(seed=seed, kills=args.kills, fault_rate=args.fault_rate,
                      database=args.database), folder)
    print(result.table(), flush=True)
    sys.exit(1 if result.violations else 0)


if __name__ == "__main__":
    main()
