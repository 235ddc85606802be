"""`publisher urgent` through its real entry point: report, update, correction, withdrawal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from channels.webhook.sandbox import Sink
from tests.support.cli import PUBLISHER, TIMEOUT_SECONDS, edit, publisher, with_webhook

pytestmark = pytest.mark.slow


def _urgent_project(shipped: Path, sink: Sink) -> Path:
    """The shipped project with the portal and a webhook (to the sink) as urgent channels."""
    with_webhook(shipped, sink.url)
    edit(shipped, "channels: [portal-main, wechat-main, weibo-main]   #",
         "channels: [portal-main, hook-main]   #")
    folder = shipped.parent / "templates" / "_urgent"
    assert (folder / "webhook.txt.j2").is_file()
    shutil.rmtree(shipped.parent / "var", ignore_errors=True)
    return shipped


def test_incident_steps_from_the_command_line(shipped: Path, env: dict[str, str],
                                              sink: Sink) -> None:
    """A report, an update, a correction and a withdrawal from the CLI reach the portal (page,
    timeline, withdrawal notice) and the webhook (new posts, then a notice), and
    `incident show` lists every step with its actor."""
    config = _urgent_project(shipped, sink)
    opened = publisher(config, env, "urgent", "--title", "某路段路面塌陷", "--facts",
                       "今日8时，某路段路面塌陷，暂无人员伤亡。", "--area", "某区某路",
                       "--severity", "一般", "--yes")
    assert opened.returncode == 0, opened.stderr
    key = next(line.split()[3] for line in opened.stdout.splitlines()
               if line.startswith("事件 / incident:"))
    assert "hook-main" in opened.stdout and "portal-main" in opened.stdout
    update = publisher(config, env, "urgent", "--update", key, "--facts", "交通已分流。", "--yes")
    assert update.returncode == 0, update.stderr
    assert "portal-main [follow_up]" in update.stdout and "hook-main [send]" in update.stdout
    corrected = publisher(config, env, "urgent", "--update", key, "--facts", "塌陷面积约10平方米。",
                          "--correction", "此前“20平方米”有误", "--yes")
    assert corrected.returncode == 0, corrected.stderr
    cancelled = publisher(config, env, "urgent", "--cancel", key, "--reason", "信息重复发布",
                          "--yes")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "portal-main [retract]" in cancelled.stdout

    page = next((config.parent / "var" / "site").rglob("urgent-*.html")).read_text(
        encoding="utf-8")
    assert "信息重复发布" in page and "交通已分流" not in page
    titles = [post["title"] for post in sink.state.posts]
    assert [t[:4] for t in titles] == ["某路段路", "【续报】", "【更正】", "【撤回】"], titles

    shown = publisher(config, env, "incident", "show", key, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["incident"]["status"] == "withdrawn"
    assert [(s["step"], s["channel"], s["action"], s["state"]) for s in data["steps"]] == [
        ("report", "hook-main", "send", "published"),
        ("report", "portal-main", "send", "retracted"),
        ("update", "hook-main", "send", "published"),
        ("update", "portal-main", "follow_up", "published"),
        ("correction", "hook-main", "send", "published"),
        ("correction", "portal-main", "follow_up", "published"),
        ("withdrawal", "hook-main", "send", "published"),
        ("withdrawal", "portal-main", "retract", "published")]
    assert {s["actor"] for s in data["steps"]} == {"staff:wang"}


def test_bad_steps_are_refused_and_named(shipped: Path, env: dict[str, str], sink: Sink) -> None:
    """An unknown incident, or --correction without --update, exits 2 naming the problem and
    records nothing."""
    config = _urgent_project(shipped, sink)
    missing = publisher(config, env, "urgent", "--update", "incident-19990101-000000",
                        "--facts", "x", "--yes")
    assert missing.returncode == 2 and "incident-19990101-000000" in missing.stderr
    stray = publisher(config, env, "urgent", "--correction", "x", "--yes")
    assert stray.returncode == 2 and "--correction" in stray.stderr
    assert not sink.state.posts


def test_grade_is_asked_for_and_old_words_refused(shipped: Path, env: dict[str, str],
                                                 sink: Sink) -> None:
    """Without --severity the first report asks for the grade (there is no default) and records
    the one given; an old CAP word exits 2 saying which grade to give, recording nothing."""
    config = _urgent_project(shipped, sink)
    old = publisher(config, env, "urgent", "--title", "某路段路面塌陷", "--facts", "路面塌陷。",
                    "--area", "某区某路", "--severity", "Severe", "--yes")
    assert old.returncode == 2 and "severity" in old.stderr and "重大" in old.stderr
    assert not sink.state.posts
    asked = subprocess.run(
        [PUBLISHER, "urgent", "--title", "某路段路面塌陷", "--facts", "路面塌陷。", "--area",
         "某区某路", "--yes", "--config", str(config)], input="特别\n较大\n", env=env,
        capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS, cwd=config.parent)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.count("事件等级 / grade") == 2  # 特别 is no grade: asked again
    key = next(line.split()[3] for line in asked.stdout.splitlines()
               if line.startswith("事件 / incident:"))
    shown = json.loads(publisher(config, env, "incident", "show", key, "--format",
                                 "json").stdout)
    assert shown["incident"]["severity"] == "较大"


def test_report_goes_out_where_its_preview_said(shipped: Path, env: dict[str, str],
                                                sink: Sink, tmp_path: Path) -> None:
    """The portal page of a first report confirmed a second or more after its preview (staff
    reading it at the prompt) is published at the address the preview showed, and the webhook
    receives the text the preview showed."""
    config = _urgent_project(shipped, sink)
    errors = (tmp_path / "stderr.txt").open("wb")
    bot = subprocess.Popen(
        [PUBLISHER, "urgent", "--title", "某路段路面塌陷", "--facts", "今日8时，某路段路面塌陷。",
         "--area", "某区某路", "--severity", "一般", "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=config.parent)
    assert bot.stdin is not None and bot.stdout is not None
    shown = b""
    while b"Publish now?" not in shown:  # the previews, then the question
        chunk = os.read(bot.stdout.fileno(), 65536)
        assert chunk, (shown.decode(), (tmp_path / "stderr.txt").read_text())
        shown += chunk
    time.sleep(1.2)  # staff read the previews: the wall clock moves on to another second
    rest, _ = bot.communicate(b"y\n", timeout=TIMEOUT_SECONDS)
    assert bot.returncode == 0, (tmp_path / "stderr.txt").read_text()
    previewed = shown.decode()
    (path,) = [line.split(": ", 1)[1] for line in previewed.splitlines()
               if line.startswith("地址 / address: ")]
    site = config.parent / "var" / "site"
    assert [p.relative_to(site).as_posix() for p in site.rglob("urgent-*.html")] == [path]
    assert f"/{path}" in rest.decode()  # the timeline's portal URL
    (post,) = sink.state.posts
    assert post["body"] in previewed
