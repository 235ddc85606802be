"""A whole incident across the portal, WeChat and Weibo emulators: a first report, two
updates, a correction and a withdrawal, with each channel's final state and the timeline."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select

from publisher import config as config_module
from publisher.app import App
from publisher.cap import NAMESPACE, validate
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
    timeline,
    update_incident,
)
from tests.support.project import copy_project

START = datetime(2026, 12, 2, 1, 40, tzinfo=UTC)  # 09:40 in Shanghai
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = f"{{{NAMESPACE}}}"


def _drain(app: App, release_id: int) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(release_id, until=app.clock.now() + timedelta(minutes=10))
    finally:
        dispatcher.shutdown()


def _weibo(app: App, *, drill: bool = False) -> dict[str, Any]:
    base = app.channel("weibo-main", drill=drill).settings.base_url
    reply = requests.get(f"{base.rstrip('/')}/_sandbox/posts", timeout=5)
    reply.raise_for_status()
    result: dict[str, Any] = reply.json()
    return result


def _wechat_articles(app: App) -> list[dict[str, Any]]:
    channel: Any = app.channel("wechat-main")
    reply = channel.publisher.api.call("freepublish/batchget",
                                       {"offset": 0, "count": 20, "no_content": 1})
    return [article for item in reply.get("item") or []
            for article in (item.get("content") or {}).get("news_item") or []]


def _wechat_mass_status(app: App) -> str:
    channel: Any = app.channel("wechat-main")
    with app.store.read() as session:
        first = session.execute(select(Delivery).where(
            Delivery.channel == "wechat-main").order_by(Delivery.id)).scalars().first()
    assert first is not None and first.receipt is not None
    reply = channel.publisher.api.call("message/mass/get",
                                       {"msg_id": first.receipt["details"]["msg_id"]})
    return str(reply["msg_status"])


def test_incident_lifecycle_on_every_channel(tmp_path: Path) -> None:
    """Each step reaches the portal, WeChat and Weibo as that channel allows (timeline entries,
    new articles, comments), the withdrawal retracts everything, and the timeline lists every
    step with its actor and times."""
    config = copy_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    clock = ManualClock(START)
    app = App(loaded=config_module.load(config), store=store, clock=clock, sandbox=True)
    try:
        first = open_incident(app, UrgentPost(
            title="某机场航站楼发生爆炸", facts="今日9时35分，某机场T2航站楼出发层发生爆炸，现场已封控。",
            area="某机场T2航站楼", severity="特别重大", instruction="请旅客听从现场指挥，暂勿前往机场。"),
            actor="staff:zhao")
        assert first.channels == ("portal-main", "wechat-main", "weibo-main")
        _drain(app, first.release_id)
        steps = [
            ("update", UrgentUpdate(facts="截至10时，已有5人送医救治，伤情正在核实。"), "staff:qian"),
            ("update", UrgentUpdate(facts="截至11时，现场明火已扑灭，T1航站楼运行正常。",
                                    instruction="T2航站楼航班改至T1办理。"), "staff:qian"),
            ("correction", UrgentUpdate(facts="截至11时，共4人送医救治，均无生命危险。",
                                        correction="此前“5人送医”有误，应为4人"), "staff:sun"),
        ]
        for expected, update, who in steps:
            clock.advance(minutes=20)
            outcome = update_incident(app, first.incident_key, update, actor=who)
            assert outcome.msg_type == "Update"
            _drain(app, outcome.release_id)
            _incident, rows = timeline(app, first.incident_key)
            assert {(s.channel, s.action, s.state) for s in rows
                    if s.release_key == outcome.release_key} == {
                ("portal-main", "follow_up", "published"),
                ("weibo-main", "follow_up", "published"),
                ("wechat-main", "send", "published")}, expected

        # before the withdrawal: the portal page has three dated entries, newest first
        site = tmp_path / "project" / "var" / "site"
        page = next(site.rglob("urgent-20261202-0940.html")).read_text(encoding="utf-8")
        assert page.index("此前“5人送医”有误") < page.index("T1航站楼运行正常") \
            < page.index("已有5人送医救治") < page.index("T2航站楼出发层发生爆炸")
        weibo = _weibo(app)
        original = weibo["posts"][0]
        assert not original["deleted"]
        assert [c["text"][:4] for c in weibo["comments"]] == ["【续报】", "【续报】", "【更正】"]
        assert all(c["status_id"] == original["idstr"] for c in weibo["comments"])
        # WeChat: the first report was mass-sent (followers notified); the quota of one a day
        # spent, each later step is a published article
        assert _wechat_mass_status(app) == "SEND_SUCCESS"
        articles = _wechat_articles(app)
        assert sorted(a["title"][:4] for a in articles) == ["【更正】", "【续报】", "【续报】"]
        assert not any(a.get("is_deleted") for a in articles)

        clock.advance(minutes=30)
        cancel = cancel_incident(app, first.incident_key,
                                 UrgentCancel(reason="经核实，系燃气管道爆裂，此前“爆炸”表述不准确，"
                                              "以新发布信息为准。"), actor="staff:sun")
        _drain(app, cancel.release_id)

        page = next(site.rglob("urgent-20261202-0940.html")).read_text(encoding="utf-8")
        assert "燃气管道爆裂" in page and "T2航站楼出发层发生爆炸" not in page
        assert _weibo(app)["posts"][0]["deleted"]
        assert all(a.get("is_deleted") for a in _wechat_articles(app))
        assert _wechat_mass_status(app) == "DELETE"
        with store.read() as session:
            deliveries = list(session.execute(select(Delivery)).scalars())
        sends = [d for d in deliveries if d.action == "send"]
        assert {d.state for d in sends} == {"retracted"}, [(d.channel, d.state) for d in sends]
        assert {d.state for d in deliveries if d.action == "retract"} == {"published"}
        assert len([d for d in deliveries if d.action == "retract"]) == 1 + 4 + 1  # portal,
        # WeChat's four posts, Weibo's first report (its comments go with it)

        incident, rows = timeline(app, first.incident_key)
        assert incident.status == "withdrawn"
        assert [s.step for s in rows if s.channel == "weibo-main"] == [
            "report", "update", "update", "correction", "withdrawal"]
        assert {s.actor for s in rows if s.step == "withdrawal"} == {"staff:sun"}
        assert all(s.to_public_seconds is not None for s in rows)
        _check_cap_documents(site)
    finally:
        app.close()


def _check_cap_documents(site: Path) -> None:
    """The portal holds one CAP document per step, each valid against the CAP 1.2 schema;
    each Update references every earlier one, the Cancel all four, as sender,id,sent."""
    feed = ElementTree.parse(site / "cap" / "feed.atom").getroot()  # noqa: S314 - our own
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")
             if link.get("type") == "application/cap+xml"]
    assert len(links) == 5
    documents = sorted((site / "cap").glob("*.xml"))
    assert len(documents) == 5
    parsed = []
    for path in documents:
        xml = path.read_text(encoding="utf-8")
        validate(xml)
        root = ElementTree.fromstring(xml)  # noqa: S314 - our own, schema-checked
        parsed.append({child.tag.removeprefix(CAP): (child.text or "") for child in root})
    parsed.sort(key=lambda doc: doc["sent"])
    assert [d["msgType"] for d in parsed] == ["Alert", "Update", "Update", "Update", "Cancel"]
    triples = [f"{d['sender']},{d['identifier']},{d['sent']}" for d in parsed]
    for index, doc in enumerate(parsed):
        assert doc.get("references", "").split() == triples[:index]
        assert doc["status"] == "Actual" and doc["sent"].endswith("+08:00")
        assert doc["incidents"] == parsed[0]["incidents"]
    assert "燃气管道爆裂" in parsed[-1]["note"]


def _drill_project(root: Path) -> Path:
    """The shipped project with a webhook channel among the urgent ones, and Weibo taking an
    update as a new post too (so every kind of drill text is made)."""
    config = copy_project(root)
    text = config.read_text(encoding="utf-8")
    text = text.replace("\nchannels:\n", "\nchannels:\n  hook:\n    kind: webhook\n    settings: "
                        "{url: 'https://duty.example.gov.cn/hooks', token: '${HOOK_TOKEN}'}\n", 1)
    text = text.replace("  channels: [portal-main, wechat-main, weibo-main]   #",
                        "  update_new_post: [weibo-main]\n"
                        "  channels: [portal-main, wechat-main, weibo-main, hook]   #")
    config.write_text(text, encoding="utf-8")
    return config


def _one_mark(text: str, where: str) -> None:
    assert text.startswith(DRILL), (where, text[:60])
    assert text.count(DRILL) == 1 and "【【" not in text, (where, text[:120])


DRILL = "【演练】"


@pytest.mark.parametrize("typed", ["某区化工厂发生火灾", "【演练】某区化工厂发生火灾"])
def test_exercise_carries_one_drill_mark_on_every_channel(tmp_path: Path, typed: str) -> None:
    """An Exercise in a live bot (no credentials set) goes only to the emulators and a drill
    folder, never to the public site; every step (report, update, correction, withdrawal)
    reads 【演练】 once, at its start, never nested (【【演练】…】) or doubled, as it lands on
    Weibo (posts and comments), WeChat (mass-sent and published articles), the webhook, the
    portal page and its CAP documents (status Exercise), also when staff typed the mark."""
    config = _drill_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    clock = ManualClock(START)
    app = App(loaded=config_module.load(config), store=store, clock=clock,
              environ={})  # live: without a drill, WeChat, Weibo and the webhook need secrets
    try:
        opened = open_incident(app, UrgentPost(
            title=typed, facts="9时40分，某化工厂储罐区模拟起火。", area="某区化工园区",
            severity="较大", status="Exercise"), actor="staff:zhao")
        _drain(app, opened.release_id)
        for update in (UrgentUpdate(facts="人员已疏散。"),
                       UrgentUpdate(facts="明火已扑灭。", correction="疏散人数应为120人",
                                    title="【演练】某区化工厂火灾已扑灭")):
            clock.advance(minutes=10)
            _drain(app, update_incident(app, opened.incident_key, update,
                                        actor="staff:zhao").release_id)
        clock.advance(minutes=10)
        _drain(app, cancel_incident(app, opened.incident_key, UrgentCancel(reason="演练结束"),
                                    actor="staff:zhao").release_id)
        with store.read() as session:
            deliveries = list(session.execute(select(Delivery)).scalars())
        assert deliveries and all(d.drill and d.state in ("published", "retracted")
                                  for d in deliveries), \
            [(d.channel, d.state, d.last_error) for d in deliveries]
        assert not (tmp_path / "project" / "var" / "site").exists()

        weibo = _weibo(app, drill=True)
        assert len(weibo["posts"]) == 3 and len(weibo["comments"]) == 2  # report, 2 updates
        for post in weibo["posts"]:
            _one_mark(post["text"], "weibo post")
        assert weibo["posts"][0]["text"].startswith("【演练】【某区化工厂发生火灾】（12月2日09:40）9时40分")
        for comment in weibo["comments"]:
            _one_mark(comment["text"], "weibo comment")

        base = app.channel("wechat-main", drill=True).settings.base_url.rstrip("/")
        articles = requests.get(f"{base}/_sandbox/articles", timeout=5).json()["articles"]
        assert {a["via"] for a in articles} == {"mass", "publish"} and len(articles) == 3
        for article in articles:
            _one_mark(article["title"], "wechat title")
            content = article["content"]  # one notice; an update's links name earlier posts
            assert content.count("【演练】本信息为应急演练内容") == 1 and "【【" not in content

        sink = app.channel("hook", drill=True).settings.url
        posts = requests.get(f"{sink}/_posts", timeout=5).json()["posts"]
        assert len(posts) == 4
        for post in posts:
            _one_mark(post["title"], "webhook title")
            _one_mark(post["body"], "webhook body")

        drill_site = tmp_path / "project" / "var" / "drill" / "portal-main" / "site"
        page = next(drill_site.rglob("urgent-20261202-0940.html")).read_text(encoding="utf-8")
        assert "【【" not in page and "<h1>【演练】【撤回】某区化工厂发生火灾</h1>" not in page
        documents = [d.read_text(encoding="utf-8") for d in (drill_site / "cap").glob("*.xml")]
        assert len(documents) == 4
        for xml in documents:
            root = ElementTree.fromstring(xml)  # noqa: S314 - our own, schema-checked
            assert root.findtext(f"{CAP}status") == "Exercise"
            _one_mark(root.findtext(f"{CAP}info/{CAP}headline") or "", "CAP headline")
        feed = (drill_site / "cap" / "feed.atom").read_text(encoding="utf-8")
        assert feed.count("<title>【演练】") == 4 and "【【" not in feed
    finally:
        app.close()


def test_actual_post_titled_as_a_drill_is_refused() -> None:
    """An actual post whose headline says 【演练】 is refused naming the title: whether a post is
    a drill is its status, and the public must never read a real alert as an exercise."""
    with pytest.raises(ValidationError, match=r"title\n.*must not be marked as a drill"):
        UrgentPost(title="【演练】某区化工厂发生火灾", facts="起火。", area="某区", severity="较大")
    post = UrgentPost(title="  【演练】 【演练】某区化工厂发生火灾", facts="起火。", area="某区",
                      severity="较大", status="Test")
    assert post.title == "某区化工厂发生火灾"


def test_first_report_with_a_picture(tmp_path: Path) -> None:
    """A picture travels with the first report: shown on the portal page from the page's own
    files, posted with the Weibo status, and uploaded into the WeChat article."""
    config = copy_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    app = App(loaded=config_module.load(config), store=store, clock=ManualClock(START),
              sandbox=True)
    photo = tmp_path / "project" / "templates" / "_layouts" / "wechat-cover.jpg"
    try:
        opened = open_incident(app, UrgentPost(
            title="某隧道发生交通事故", facts="今日9时40分，某隧道内两车相撞，隧道暂时封闭。",
            area="某隧道", severity="一般", picture=UrgentPicture.from_file(photo)),
            actor="staff:zhao")
        _drain(app, opened.release_id)
        site = tmp_path / "project" / "var" / "site"
        page = next(site.rglob("urgent-20261202-0940.html"))
        assert '<img src="urgent-20261202-0940.files/wechat-cover.jpg"' in page.read_text(
            encoding="utf-8")
        assert (page.parent / "urgent-20261202-0940.files" / "wechat-cover.jpg").read_bytes() \
            == photo.read_bytes()
        assert _weibo(app)["posts"][0]["picture_bytes"] == photo.stat().st_size
        with store.read() as session:
            wechat = session.execute(select(Delivery).where(
                Delivery.channel == "wechat-main")).scalar_one()
        assert wechat.state == "published"
        assert list(wechat.payload["data"]["images"]) == ["wechat-cover.jpg"]
        base = app.channel("wechat-main").settings.base_url.rstrip("/")
        calls = requests.get(f"{base}/_sandbox/stats", timeout=5).json()["calls"]
        assert any("uploadimg" in name for name in calls), calls
    finally:
        app.close()


def test_unusable_picture_is_refused_before_anything_is_kept(tmp_path: Path) -> None:
    """A picture whose bytes are no picture, or not of the type it says, is refused, naming
    the problem."""
    with pytest.raises(ValidationError, match="not a readable picture"):
        UrgentPicture(name="scene.png", content_type="image/png",
                      data_base64=base64.b64encode(b"GIF89a....").decode())
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, format="GIF")
    with pytest.raises(ValidationError, match="really image/gif, not the declared image/png"):
        UrgentPicture(name="scene.png", content_type="image/png",
                      data_base64=base64.b64encode(gif.getvalue()).decode())
    text = tmp_path / "notes.txt"
    text.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"notes\.txt: only \.jpg"):
        UrgentPicture.from_file(text)


@pytest.mark.parametrize("weibo_refuses", [False, True])
def test_three_similar_drills_never_share_one_post(tmp_path: Path, weibo_refuses: bool) -> None:
    """Three drills of one scenario, worded alike, a minute apart: each Weibo post carries its
    report's local time and its delivery's mark, so three posts land, each delivery linking
    its own. Where Weibo still refuses the second and third as repeated content (20017), those
    two end failed with a zh-CN reason staff see on the incident, never published on the first
    drill's post."""
    config = _drill_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    clock = ManualClock(START)
    app = App(loaded=config_module.load(config), store=store, clock=clock, environ={})
    try:
        opened = []
        for n in range(3):
            if n and weibo_refuses:
                base = app.channel("weibo-main", drill=True).settings.base_url.rstrip("/")
                requests.post(f"{base}/_sandbox/faults", timeout=5,
                              data={"faults": "20017@/2/statuses/share.json"}).raise_for_status()
            opened.append(open_incident(app, UrgentPost(
                title="某区化工厂发生火灾", facts=f"某化工厂储罐区模拟起火{'。' * (n + 1)}",
                area="某区化工园区", severity="较大", status="Exercise",
                channels=["weibo-main"]), actor="staff:zhao"))
            _drain(app, opened[-1].release_id)
            clock.advance(minutes=1)
        posts = _weibo(app, drill=True)["posts"]
        rows = [next(s for s in timeline(app, o.incident_key)[1] if s.channel == "weibo-main")
                for o in opened]
        with store.read() as session:
            receipts = [d.receipt for d in session.execute(select(Delivery).where(
                Delivery.channel == "weibo-main").order_by(Delivery.id)).scalars()]
    finally:
        app.close()
    times = ["（12月2日09:40）", "（12月2日09:41）", "（12月2日09:42）"]
    if not weibo_refuses:
        assert [r.state for r in rows] == ["published"] * 3
        assert len(posts) == 3
        assert all(t in p["text"] for p, t in zip(posts, times, strict=True))
        assert [(r or {}).get("remote_id") for r in receipts] == [p["idstr"] for p in posts]
        return
    assert len(posts) == 1 and times[0] in posts[0]["text"]
    assert [r.state for r in rows] == ["published", "failed", "failed"]
    assert receipts[1:] == [None, None]  # nothing links the first drill's post
    for row in rows[1:]:
        assert row.url is None
        assert "本条未发布" in row.detail and "修改文字" in row.detail, row.detail
