"""The campaign's parts: the emulators' process, its database, the bot's project and commands."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.campaign.plan import Plan
from tests.support.pg import own_database

ROOT = Path(__file__).resolve().parents[3]
PUBLISHER = str(Path(sys.executable).parent / "publisher")
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
               timeout_seconds: {timeout}, settle_seconds: {settle}}}
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
    with own_database("publisher_campaign") as url:
        yield url


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
        wait(lambda: self.starts() > before or daemon.poll() is not None, seconds)
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


def wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()
