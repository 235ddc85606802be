"""Urgent posts through WordPress, on the emulator and on the real WordPress (Debian's package):
a report with a picture, an update and a correction as posts of their own linking the first
report, a withdrawal to the trash with a notice; and a wrong application password."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import select

from channels.base import ChannelContext, ConfigurationError, Message
from channels.wordpress.adapter import ALL_STATUSES, WordPressChannel, WordPressSettings
from channels.wordpress.sandbox import serve
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.urgent import (
    UrgentCancel,
    UrgentPicture,
    UrgentPost,
    UrgentUpdate,
    cancel_incident,
    open_incident,
    update_incident,
)
from tests.support.project import copy_project

START = datetime(2026, 12, 2, 1, 40, tzinfo=UTC)
SECRETS = {"WECHAT_APP_SECRET": "s" * 32, "WEIBO_APP_SECRET": "w" * 32}


@dataclass(frozen=True)
class Target:
    """A WordPress site the bot posts to: its root, the account and its application password."""

    url: str
    username: str
    password: str

    def posts(self) -> list[dict[str, Any]]:
        """Every post on the site, in every status, with raw content."""
        reply = requests.get(f"{self.url}wp-json/wp/v2/posts", auth=(self.username, self.password),
                             params={"status": ALL_STATUSES, "context": "edit", "per_page": "100"},
                             timeout=30)
        reply.raise_for_status()
        return [p for p in reply.json() if "gov-publisher delivery=" in p["content"]["raw"]]

    def media(self) -> list[dict[str, Any]]:
        reply = requests.get(f"{self.url}wp-json/wp/v2/media", auth=(self.username, self.password),
                             params={"context": "edit", "per_page": "100"}, timeout=30)
        reply.raise_for_status()
        return list(reply.json())


@pytest.fixture(params=["emulator", pytest.param(
    "real", marks=[pytest.mark.slow, pytest.mark.wordpress])])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The WordPress emulator, or the real WordPress (a fresh site per test run)."""
    if request.param == "real":
        site = request.getfixturevalue("real_wordpress")
        yield Target(site.url, site.username, site.application_password)
        return
    emulator = serve()
    emulator.state.add_user("publisher-bot", "abcd efgh ijkl mnop")
    try:
        yield Target(emulator.url, "publisher-bot", "abcd efgh ijkl mnop")
    finally:
        emulator.stop()


def _project(root: Path, target: Target) -> Path:
    """The shipped project with wordpress-main enabled, pointed at ``target``."""
    config = copy_project(root)
    text = config.read_text(encoding="utf-8")
    text = text.replace("    enabled: false               # enable (and add", "    # (add", 1)
    text = text.replace("""      base_url: https://www.example.gov.cn/
      username: publisher-bot""", f"""      base_url: {target.url}
      username: {target.username}""")
    assert target.url in text
    config.write_text(text, encoding="utf-8")
    return config


def _drain(app: App, release_id: int) -> None:
    dispatcher = Dispatcher(app, workers=1)
    try:
        dispatcher.drain(release_id, until=app.clock.now() + timedelta(minutes=10))
    finally:
        dispatcher.shutdown()


def _picture() -> UrgentPicture:
    data = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(data, format="PNG")
    return UrgentPicture(name="scene.png", content_type="image/png",
                         data_base64=base64.b64encode(data.getvalue()).decode("ascii"))


def test_urgent_report_update_correction_withdrawal(tmp_path: Path, target: Target) -> None:
    """The report (its picture uploaded to the media library, the portal getting it too), an
    update and a correction each land as a post with its own slug linking the first report,
    and the withdrawal moves all three to the trash and posts a notice."""
    config = _project(tmp_path / "project", target)
    clock = ManualClock(START)
    app = App(loaded=config_module.load(config), store=Store(f"sqlite:///{tmp_path / 'p.db'}"),
              clock=clock, environ={**SECRETS, "WORDPRESS_APP_PASSWORD": target.password})
    earlier = {p["id"] for p in target.posts()} | {m["id"] for m in target.media()}
    try:
        first = open_incident(app, UrgentPost(
            title="某路段发生山体滑坡", facts="今日9时30分，某路段发生山体滑坡，交通中断。",
            area="某路段", severity="较大", channels=["portal-main", "wordpress-main"],
            picture=_picture()), actor="staff:zhao")
        _drain(app, first.release_id)
        [report] = [p for p in target.posts() if p["id"] not in earlier]
        [medium] = [m for m in target.media() if m["id"] not in earlier]
        assert medium["source_url"] in report["content"]["raw"]
        assert 'src="scene.png"' not in report["content"]["raw"]
        site = tmp_path / "project" / "var" / "site"
        assert next(site.rglob("scene.png")).stat().st_size > 0  # the portal took it too

        for update in (UrgentUpdate(facts="截至10时，抢修队伍已到场。"),
                       UrgentUpdate(facts="截至11时，单向通行。", correction="此前时间有误，应为9时20分")):
            clock.advance(minutes=20)
            _drain(app, update_incident(app, first.incident_key, update,
                                        actor="staff:qian").release_id)
        live = sorted((p for p in target.posts() if p["id"] not in earlier),
                      key=lambda p: p["id"])
        assert len(live) == 3 and len({p["slug"] for p in live}) == 3
        assert all(report["link"] in p["content"]["raw"] for p in live[1:])
        assert "更正" in live[2]["content"]["raw"] and "9时20分" in live[2]["content"]["raw"]

        clock.advance(minutes=20)
        _drain(app, cancel_incident(app, first.incident_key, UrgentCancel(
            reason="经核实系误报。"), actor="staff:sun").release_id)
        after = {p["id"]: p for p in target.posts() if p["id"] not in earlier}
        assert {after[p["id"]]["status"] for p in live} == {"trash"}
        [notice] = [p for i, p in after.items() if i not in {q["id"] for q in live}]
        assert notice["status"] == "publish" and "撤回原因：经核实系误报。" in notice["content"]["raw"]
        with app.store.read() as session:
            rows = session.execute(select(Delivery).where(
                Delivery.channel == "wordpress-main")).scalars().all()
        assert {(d.action, d.state) for d in rows} == {
            ("send", "retracted"), ("send", "published"), ("retract", "published")}, \
            [(d.action, d.state, d.reason) for d in rows]
    finally:
        app.close()


def test_wrong_application_password_is_an_authentication_error(
        tmp_path: Path, target: Target) -> None:
    """A wrong application password ends as a configuration error saying the application
    password is wrong, from send and from check(), never as rejected content."""
    context = ChannelContext(clock=lambda: START, sleep=lambda _s: None,
                             session=requests.Session(), work_dir=tmp_path)
    channel = WordPressChannel("wp", WordPressSettings(
        base_url=target.url, username=target.username,
        application_password=SecretStr("wxyz wxyz wxyz wxyz wxyz wxyz")), context)
    message = Message(release_key="urgent@2026-12-02T09:40:00+08:00", definition_id="urgent",
                      title="标题", body="<p>正文</p>", body_format="html", metadata={
                          "issuing_organ": "某市人民政府", "subject_category": "综合政务",
                          "index_number": "MB0000999/2026-00001", "published_date": "2026-12-02",
                          "signed_date": "2026-12-02", "column": "emergency",
                          "column_name": "突发事件", "slug": "urgent-20261202-0940"})
    before = len(target.posts())
    with pytest.raises(ConfigurationError) as info:
        channel.send(channel.prepare(message), "0" * 32)
    assert "应用密码错误" in str(info.value) and "application password is wrong" in str(info.value)
    [problem] = channel.check()
    assert "应用密码错误" in problem
    assert len(target.posts()) == before
